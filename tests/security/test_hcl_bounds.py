"""Issue 12, M5: no Terraform input can hang a scan, exhaust its memory or crash it.

Each hostile module sits beside a well-behaved one: the scan must report the hostile one at
its file and line and still check the other. Nothing here measures time: bounds are counted
(values, members, nesting), and the time budget is shrunk so that a runaway loop meets it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sentier.cli import app
from sentier.policy import load_paths, scan_paths
from sentier.policy.hcl import budget, functions
from sentier.policy.scan import PARSE_RULE

GOOD = 'resource "aws_s3_bucket" "good" {\n  bucket = "good"\n}\n'


def _tree(tmp_path: Path, hostile: str, name: str = "main.tf") -> tuple[Path, Path]:
    """``hostile/<name>`` (plus a bucket) and ``good/main.tf``, side by side."""
    bad = tmp_path / "hostile" / name
    bad.parent.mkdir(parents=True)
    bad.write_text(hostile + '\nresource "aws_s3_bucket" "bad" {\n  bucket = "bad"\n}\n', "utf-8")
    good = tmp_path / "good" / "main.tf"
    good.parent.mkdir(parents=True)
    good.write_text(GOOD, "utf-8")
    return bad, good


def _problems(tmp_path: Path) -> tuple[list[Any], set[str]]:
    """The parse/evaluation problems and the addresses of resources found, from a full scan."""
    loaded = load_paths([str(tmp_path)])
    result = scan_paths([str(tmp_path)])
    assert [f for f in result.findings if f.rule_id == PARSE_RULE]  # problems become findings
    return loaded.problems, {r.address for r in loaded.resources}


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def _the_problem(problems: list[Any], path: Path, line: int, words: str) -> Any:
    found = [p for p in problems if p.file == str(path) and p.line == line and words in p.message]
    assert found, [(p.file, p.line, p.message) for p in problems]
    return found[0]


# -- the three reported cases -----------------------------------------------------------------


class _Counted:
    """A value that counts how often it is compared: set operations must hash, not scan."""

    comparisons = 0

    def __init__(self, number: int) -> None:
        self.number = number

    def __eq__(self, other: object) -> bool:
        _Counted.comparisons += 1
        return isinstance(other, _Counted) and other.number == self.number

    def __hash__(self) -> int:
        return hash(self.number)


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("toset", lambda xs: functions.fn_toset(xs)),
        ("distinct", lambda xs: functions.fn_distinct(xs)),
        ("setunion", lambda xs: functions.fn_setunion(xs, xs)),
        ("setintersection", lambda xs: functions.fn_setintersection(xs, xs)),
        ("setsubtract", lambda xs: functions.fn_setsubtract(xs, xs[:10])),
        ("contains", lambda xs: functions.fn_contains(xs, _Counted(-1))),
        ("index", lambda xs: functions.fn_index(xs, xs[-1])),
        ("matchkeys", lambda xs: functions.fn_matchkeys(xs, xs, xs[:10])),
    ],
)
def test_set_operations_are_linear(name: str, call: Any) -> None:
    items = [_Counted(i) for i in range(5_000)] + [_Counted(i) for i in range(100)]
    _Counted.comparisons = 0
    call(items)
    # Pairwise membership compares ~n²/2 = 13 million times; hashing, about once per member.
    assert _Counted.comparisons < 4 * len(items), (name, _Counted.comparisons)


def test_toset_of_a_hundred_thousand_members_and_of_lists_keeps_terraform_semantics(
    tmp_path: Path,
) -> None:
    numbers = list(range(100_000)) * 2
    assert functions.fn_toset(numbers) == list(range(100_000))
    nested = [[i % 7, {"k": i % 3}] for i in range(20_000)]
    assert len(functions.fn_toset(nested)) == 21  # lcm(7, 3) distinct pairs
    assert functions.fn_toset([1, 1.0, "1", [1], [1.0]]) == [1, "1", [1]]
    _tree(
        tmp_path,
        "locals {\n  xs = flatten([for i in range(1000) : [for j in range(100) : i * 100 + j]])\n"
        "}\n"
        'resource "aws_s3_bucket" "sized" {\n  bucket = "n-${length(toset(local.xs))}"\n}\n',
    )
    loaded = load_paths([str(tmp_path)])
    sized = next(r for r in loaded.resources if r.address == "aws_s3_bucket.sized")
    assert sized.attrs["bucket"] == "n-100000"
    assert not loaded.problems


def test_a_format_width_of_a_billion_is_refused_at_its_line(tmp_path: Path) -> None:
    bad, _ = _tree(
        tmp_path,
        'locals {\n  big = format("%0999999999d", 1)\n}\n'
        'resource "aws_s3_bucket" "b" {\n  bucket = local.big\n}\n',  # locals are lazy
    )
    problems, found = _problems(tmp_path)
    _the_problem(problems, bad, 2, "format width")
    assert {"aws_s3_bucket.bad", "aws_s3_bucket.good"} <= found


def test_three_thousand_nested_brackets_are_a_located_problem_not_a_traceback(
    tmp_path: Path,
) -> None:
    deep = "[" * 3_000 + "]" * 3_000
    bad, _ = _tree(tmp_path, f"locals {{\n  deep = {deep}\n}}\n")
    problems, found = _problems(tmp_path)
    _the_problem(problems, bad, 2, "nested more than")
    assert {"aws_s3_bucket.bad", "aws_s3_bucket.good"} <= found
    result = CliRunner().invoke(app, ["scan", str(tmp_path), "--fail-on", "critical"])
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "nested more than" in result.output


def budget_lines() -> int:
    """The block at which the syntax bound is crossed (the resource counts as one)."""
    from sentier.policy.hcl.syntax import MAX_NESTING

    return MAX_NESTING - 1


def test_deep_nesting_in_blocks_json_and_operator_chains(tmp_path: Path) -> None:
    blocks = "a {\n" * 3_000 + "}\n" * 3_000
    chain = "x = " + " + ".join(["1"] * 5_000) + "\n"
    bad, _ = _tree(tmp_path, f'resource "null_resource" "n" {{\n{blocks}{chain}}}\n')
    document = '{"locals": {"x": ' + "[" * 3_000 + "]" * 3_000 + "}}"
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "main.tf.json").write_text(document, "utf-8")
    problems, found = _problems(tmp_path)
    # Blocks nest a line each: the problem is where the bound is crossed.
    _the_problem(problems, bad, 2 + budget_lines(), "nested more than")
    _the_problem(problems, tmp_path / "json" / "main.tf.json", 1, "nested more than")
    assert "aws_s3_bucket.good" in found


# -- every other way to blow a value up --------------------------------------------------------


@pytest.mark.parametrize(
    ("hcl", "needle", "words"),
    [
        ("x = range(1000000000)", "range", "more than 1024 values"),
        ("x = setproduct(range(1000), range(1000), range(10))", "setproduct", "setproduct()"),
        ('x = indent(999999999, "a\\nb")', "indent", "indent of"),
        ('x = format("%.999999f", 1)', "format", "format width"),
        (
            'a0 = "xxxxxxxxxxxxxxxx"\n'
            + "".join(f'  a{i} = "${{local.a{i - 1}}}${{local.a{i - 1}}}"\n' for i in range(1, 40))
            + "  x = local.a39",
            "a19 =",
            "template",
        ),
        (
            "c0 = [1, 2, 3, 4, 5, 6, 7, 8]\n"
            + "".join(f"  c{i} = concat(local.c{i - 1}, local.c{i - 1})\n" for i in range(1, 40))
            + "  x = local.c39",
            "c14 =",
            "concat()",
        ),
        (
            'j0 = ["xxxxxxxxxxxxxxxx"]\n'
            + "".join(
                f'  j{i} = [join("", [for v in range(64) : local.j{i - 1}[0]])]\n'
                for i in range(1, 12)
            )
            + "  x = local.j11",
            "j4 =",
            "join()",
        ),
        (
            'r0 = "aaaaaaaaaaaaaaaa"\n'
            + "".join(f'  r{i} = replace(local.r{i - 1}, "a", "aaaa")\n' for i in range(1, 20))
            + "  x = local.r19",
            "r10 =",
            "replace()",
        ),
        ("x = pow(10, 400)", "pow", "pow()"),
        (
            "n0 = 99999999999999999999\n"
            + "".join(f"  n{i} = local.n{i - 1} * local.n{i - 1}\n" for i in range(1, 40))
            + "  x = local.n39",
            "n4 =",
            "bits",
        ),
    ],
    ids=[
        "range",
        "setproduct",
        "indent",
        "precision",
        "doubling-template",
        "doubling-concat",
        "join",
        "replace",
        "pow",
        "arithmetic",
    ],
)
def test_values_past_their_bounds_are_unknown_and_reported_at_their_line(
    tmp_path: Path, hcl: str, needle: str, words: str
) -> None:
    text = f"locals {{\n  {hcl}\n}}\n"
    text += 'resource "aws_s3_bucket" "uses" {\n  bucket = jsonencode(local.x)\n}\n'
    bad, _ = _tree(tmp_path, text)
    problems, found = _problems(tmp_path)
    _the_problem(problems, bad, _line_of(bad, needle), words)
    assert {"aws_s3_bucket.uses", "aws_s3_bucket.bad", "aws_s3_bucket.good"} <= found


def test_a_count_of_infinity_is_no_crash(tmp_path: Path) -> None:
    _tree(tmp_path, 'resource "null_resource" "n" {\n  count = 1.0e+400\n}\n')
    _, found = _problems_or_none(tmp_path)
    assert "aws_s3_bucket.good" in found


def _problems_or_none(tmp_path: Path) -> tuple[list[Any], set[str]]:
    loaded = load_paths([str(tmp_path)])
    scan_paths([str(tmp_path)])
    return loaded.problems, {r.address for r in loaded.resources}


def test_regular_expressions_run_on_re2_as_terraforms_do(tmp_path: Path) -> None:
    # RE2 (Go's regexp, Terraform's engine) has no back-references, which is what makes it
    # linear: a pattern that backtracks exponentially elsewhere is matched at once.
    with pytest.raises(functions.EvalError):
        functions.fn_regex(r"(a)\1", "aa")
    assert functions.fn_regexall("(a+)+$", "a" * 5_000 + "b") == []
    assert functions.fn_regex("(?P<x>a)(b)", "ab") == {"x": "a"}
    assert functions.fn_replace("a-b-c", "/-(.)/", "+$1") == "a+b+c"


# -- the budget of a module: memory, depth, time ------------------------------------------------


def test_members_shared_a_million_times_are_paid_for_before_they_are_encoded(
    tmp_path: Path,
) -> None:
    # 100 × 1,000 references to one 10,000-character string: 1 GB once encoded.
    bad, _ = _tree(
        tmp_path,
        "locals {\n"
        '  big   = join("", [for i in range(1000) : "xxxxxxxxxx"])\n'
        "  wide  = [for i in range(1000) : local.big]\n"
        "  wider = [for i in range(100) : local.wide]\n"
        "  text  = jsonencode(local.wider)\n"
        "}\n"
        'resource "null_resource" "n" {\n  x = local.text\n}\n',
    )
    problems, found = _problems(tmp_path)
    problem = _the_problem(problems, bad, 5, "MiB of values")
    assert "none of its resources were checked" in problem.remediation
    assert "aws_s3_bucket.bad" not in found  # the module stopped...
    assert "aws_s3_bucket.good" in found  # ...the scan did not


def test_a_chain_of_locals_deeper_than_the_bound_is_located(tmp_path: Path) -> None:
    chain = "".join(f"  a{i} = local.a{i - 1} + 1\n" for i in range(1, 3_000))
    bad, _ = _tree(
        tmp_path,
        f'locals {{\n  a0 = 0\n{chain}}}\nresource "null_resource" "n" {{\n  x = local.a2999\n}}\n',
    )
    problems, found = _problems(tmp_path)
    problem = next(p for p in problems if "nested more than" in p.message)
    assert problem.file == str(bad) and problem.line > 2
    assert "aws_s3_bucket.good" in found


def test_a_value_nested_deeper_than_the_bound_without_deep_evaluation(tmp_path: Path) -> None:
    # Each local wraps the one before; listed in order they evaluate shallowly, one by one.
    chain = "".join(f"  a{i} = [local.a{i - 1}]\n" for i in range(1, 1_500))
    listed = ", ".join(f"local.a{i}" for i in range(1, 1_500))
    bad, _ = _tree(
        tmp_path,
        f'locals {{\n  a0 = 0\n{chain}}}\nresource "null_resource" "n" {{\n  x = [{listed}]\n}}\n',
    )
    problems, found = _problems(tmp_path)
    _the_problem(problems, bad, _line_of(bad, 'resource "null_resource"'), "nested more than")
    assert "aws_s3_bucket.good" in found


def test_a_runaway_loop_meets_the_time_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget, "TIME_BUDGET", 0.5)
    bad, _ = _tree(
        tmp_path,
        "locals {\n"
        "  n = [for a in range(1000) : [for b in range(1000) : [for c in range(1000) : c]]]\n"
        "}\n"
        'resource "null_resource" "n" {\n  x = local.n\n}\n',
    )
    problems, found = _problems(tmp_path)
    _the_problem(problems, bad, 2, "longer than 0.5 s")
    assert "aws_s3_bucket.good" in found


def test_the_memory_budget_is_per_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "MEMORY_BUDGET", 1024 * 1024)
    bad, _ = _tree(
        tmp_path,
        'locals {\n  s = [for i in range(1000) : join("", [for j in range(100) : "0123456789"])]\n'
        "}\n"
        'resource "null_resource" "n" {\n  x = local.s\n}\n',
    )
    # The same module evaluated again in the same scan starts from a whole budget.
    second = tmp_path / "again" / "main.tf"
    second.parent.mkdir()
    second.write_text(
        'locals {\n  s = [for i in range(10) : "0123456789"]\n}\n'
        'resource "null_resource" "n" {\n  x = local.s\n}\n'
    )
    problems, found = _problems(tmp_path)
    _the_problem(problems, bad, 2, "MiB of values")
    assert "aws_s3_bucket.good" in found
    assert not [p for p in problems if p.file == str(second)]


def test_cidr_functions_refuse_impossible_new_bits() -> None:
    # A negative newbits used to shift 1 by a billion bits: 125 MB for one call.
    with pytest.raises(functions.EvalError, match="newbits"):
        functions.fn_cidrsubnet("10.0.0.0/8", -1_000_000_000, 0)
    with pytest.raises(functions.EvalError, match="newbits"):
        functions.fn_cidrsubnets("10.0.0.0/8", 4, -1_000_000_000)
    assert functions.fn_cidrsubnet("10.0.0.0/8", 8, 2) == "10.2.0.0/16"


def test_yamlencode_of_a_huge_value_is_refused(tmp_path: Path) -> None:
    bad, _ = _tree(
        tmp_path,
        "locals {\n"
        "  rows = [for i in range(400) : [for j in range(400) : j]]\n"
        "  text = yamlencode(local.rows)\n"
        "}\n"
        'resource "null_resource" "n" {\n  x = local.text\n}\n',
    )
    problems, found = _problems(tmp_path)
    _the_problem(problems, bad, 3, "yamlencode()")
    assert "aws_s3_bucket.good" in found


def test_a_plan_nested_beyond_what_the_readers_recurse_is_a_problem(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    plan = tmp_path / "plan" / "tfplan.json"
    plan.parent.mkdir()
    plan.write_text(
        '{"format_version": "1.2", "planned_values": {"root_module": {"resources": [{"address":'
        f' "a.b", "type": "a", "name": "b", "values": {{"x": {deep}}}}}]}}}}}}',
        "utf-8",
    )
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "main.tf").write_text(GOOD, "utf-8")
    problems, found = _problems(tmp_path)
    _the_problem(problems, plan, 1, "nested too deeply")
    assert "aws_s3_bucket.good" in found
