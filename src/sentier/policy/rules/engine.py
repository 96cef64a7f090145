"""Rules as data, and the engine that runs them over resources.

A rule is one YAML file: metadata (id, title, severity, category, description, remediation,
references), one or more checks (the resource types they apply to, an optional ``when``, the
``fail`` condition, where to ``report``) and its own tests (positive and negative samples with
the lines they must flag), the way KICS keeps a query's tests beside it. Checks can also be
Python functions (the escape hatch) or Rego policies evaluated by regorus.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from sentier.policy.errors import PolicyError
from sentier.policy.model import Loc, Resource, Unknown, plain, refs_in
from sentier.policy.rules.compiled import ELIDED_TESTS
from sentier.policy.rules.conditions import Compiler, Condition
from sentier.policy.rules.paths import parse_path

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}
PACKS_DIR = FsPath(__file__).resolve().parent.parent / "packs"


@dataclass
class Check:
    types: list[str]
    fail: Condition | None
    when: Condition | None = None
    report: list[tuple[str | int, ...]] | None = None
    report_resource: bool = False
    message: str | None = None
    unknown: str = "ignore"  # ignore | fail
    rego: Any = None  # (engine factory, query)


@dataclass
class RuleTest:
    name: str
    filename: str
    code: str
    expect: list[int]


@dataclass
class Rule:
    id: str
    title: str
    severity: str
    category: str
    description: str
    remediation: str
    references: list[str]
    checks: list[Check]
    pack: str
    path: str
    loaded_tests: list[RuleTest] | None = None
    kics: list[str] = field(default_factory=list)
    frameworks: dict[str, Any] = field(default_factory=dict)
    providers: list[str] = field(default_factory=list)

    @property
    def tests(self) -> list[RuleTest]:
        """The rule's samples; read from its file on first use when loaded from the cache."""
        if self.loaded_tests is None:
            self.loaded_tests = load_rule_file(self.path, self.pack).tests
        return self.loaded_tests

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "category": self.category,
            "pack": self.pack,
            "resources": sorted({t for c in self.checks for t in c.types}),
            "tests": len(self.tests),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "description": self.description,
            "remediation": self.remediation,
            "references": self.references,
            "frameworks": self.frameworks,
            "path": self.path,
        }


@dataclass
class Finding:
    rule_id: str
    title: str
    severity: str
    category: str
    message: str
    file: str
    line: int
    resource: str
    resource_type: str
    pack: str
    remediation: str = ""
    references: list[str] = field(default_factory=list)
    status: str = "open"  # open | suppressed | baselined
    suppression: str | None = None
    source: str = "terraform"
    # The file as the scan's identity knows it: relative to its repository's root (else its
    # absolute path), so the same finding is recognised whichever way the scan was invoked.
    anchor: str | None = None

    @property
    def fingerprint(self) -> str:
        """Stable across scans, line shifts and invocations: rule, anchored file, resource."""
        raw = f"{self.rule_id}|{self.anchor or self.file}|{self.resource}|{self.message}"
        return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:20]

    @property
    def legacy_fingerprint(self) -> str:
        """The first fingerprint (file as given on the command line), still honoured in
        baselines and stored scans written before anchoring."""
        raw = f"{self.rule_id}|{self.file}|{self.resource}|{self.message}"
        return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:20]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "category": self.category,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "resource": self.resource,
            "resource_type": self.resource_type,
            "pack": self.pack,
            "status": self.status,
            "suppression": self.suppression,
            "fingerprint": self.fingerprint,
            "remediation": self.remediation,
            "references": self.references,
        }


class Context:
    """What checks may consult beyond the resource: the other resources, plans, registries."""

    def __init__(
        self,
        resources: Sequence[Resource],
        *,
        tagging_plan: Any = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.resources = resources
        self.tagging_plan = tagging_plan
        self.settings = settings or {}
        self.undetermined = 0
        self._by_type: dict[str, list[Resource]] = {}
        for resource in resources:
            self._by_type.setdefault(resource.type, []).append(resource)
        self._relations: dict[tuple[str, tuple[str | int, ...]], dict[str, list[Resource]]] = {}
        self._by_address: dict[str, Resource] | None = None

    def find(self, address: str) -> Resource | None:
        """The resource at ``address`` (or the first instance of a counted one)."""
        if self._by_address is None:
            self._by_address = {}
            for resource in self.resources:
                self._by_address.setdefault(resource.address, resource)
                self._by_address.setdefault(resource.base_address, resource)
        return self._by_address.get(address)

    def of_types(self, types: Iterable[str]) -> list[Resource]:
        out: list[Resource] = []
        for name in types:
            if name == "@any":
                return list(self.resources)
            if name.startswith("@"):
                flag = name[1:]
                out.extend(r for r in self.resources if r.meta.get(flag))
            else:
                out.extend(self._by_type.get(name, ()))
        return out

    def related(
        self, target: Resource, types: list[str], via: list[tuple[str | int, ...]]
    ) -> list[Resource]:
        """Resources of ``types`` whose ``via`` attribute refers to ``target``."""
        keys = {target.base_address, target.address}
        names = {
            str(v)
            for v in (
                target.attrs.get("bucket"),
                target.attrs.get("name"),
                target.attrs.get("id"),
            )
            if isinstance(v, str)
        }
        out: list[Resource] = []
        seen: set[int] = set()
        for rtype in types:
            for path in via or [()]:
                index = self._relation_index(rtype, path)
                for key in keys | names:
                    for other in index.get(key, ()):
                        if id(other) not in seen:
                            seen.add(id(other))
                            out.append(other)
        return out

    def _relation_index(self, rtype: str, path: tuple[str | int, ...]) -> dict[str, list[Resource]]:
        key = (rtype, path)
        index = self._relations.get(key)
        if index is not None:
            return index
        index = {}
        for resource in self._by_type.get(rtype, ()):
            value = resource.get(path) if path else resource.attrs
            for ref in refs_in(value):
                index.setdefault(ref, []).append(resource)
                # Inside the same module the reference is relative; key it both ways.
                if resource.module_path and ref.startswith(resource.module_path + "."):
                    pass
            if isinstance(value, str):
                index.setdefault(value, []).append(resource)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, str):
                        index.setdefault(item, []).append(resource)
        self._relations[key] = index
        return index


# -- loading -----------------------------------------------------------------------------


def _python_checks() -> dict[str, Callable[..., Any]]:
    from sentier.policy.rules import builtin_checks

    return dict(builtin_checks.CHECKS)


def _line_of_key(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(f"{key}:"):
            return number
    return None


def parse_rule(data: Any, path: str, pack: str, text: str = "") -> Rule:
    """Build a rule from its YAML data; errors name the file, line and field."""
    if not isinstance(data, dict):
        raise PolicyError("a rule file must hold a mapping", file=path, line=1)
    for required in ("id", "title", "severity", "checks"):
        if required not in data:
            raise PolicyError(f"missing {required!r}", file=path, line=1, field=required)
    severity = str(data["severity"]).lower()
    if severity not in SEVERITIES:
        raise PolicyError(
            f"severity must be one of {', '.join(SEVERITIES)}",
            file=path,
            line=_line_of_key(text, "severity"),
            field="severity",
        )
    compiler = Compiler(path, _python_checks())
    checks: list[Check] = []
    raw_checks = data["checks"]
    if not isinstance(raw_checks, list) or not raw_checks:
        raise PolicyError(
            "checks must be a non-empty list",
            file=path,
            line=_line_of_key(text, "checks"),
            field="checks",
        )
    for index, raw in enumerate(raw_checks):
        where = f"checks[{index}]"
        if not isinstance(raw, dict):
            raise PolicyError("a check must be a mapping", file=path, field=where)
        types = raw.get("resources")
        if not types:
            raise PolicyError("a check needs resources", file=path, field=f"{where}.resources")
        try:
            rego = _rego(raw, path) if "rego" in raw or "rego_file" in raw else None
            fail = compiler.compile(raw["fail"]) if "fail" in raw else None
            when = compiler.compile(raw["when"]) if "when" in raw else None
        except PolicyError as error:
            raise PolicyError(
                error.message, file=path, line=_line_of_key(text, "fail"), field=where
            ) from error
        if fail is None and rego is None:
            raise PolicyError("a check needs fail (or rego)", file=path, field=where)
        report = raw.get("report")
        report_resource = report == "resource"
        report_paths = None
        if report is not None and not report_resource:
            report_paths = [
                parse_path(str(p)) for p in (report if isinstance(report, list) else [report])
            ]
        checks.append(
            Check(
                types=[str(t) for t in (types if isinstance(types, list) else [types])],
                fail=fail,
                when=when,
                report=report_paths,
                report_resource=report_resource,
                message=raw.get("message"),
                unknown=str(raw.get("unknown", "ignore")),
                rego=rego,
            )
        )
    tests = []
    for index, raw in enumerate(data.get("tests") or []):
        if not isinstance(raw, dict) or "code" not in raw:
            raise PolicyError("a test needs code", file=path, field=f"tests[{index}]")
        tests.append(
            RuleTest(
                name=str(raw.get("name", f"test {index + 1}")),
                filename=str(raw.get("file", "main.tf")),
                code=str(raw["code"]),
                expect=[int(x) for x in raw.get("expect") or []],
            )
        )
    return Rule(
        id=str(data["id"]),
        title=str(data["title"]),
        severity=severity,
        category=str(data.get("category", "General")),
        description=str(data.get("description", data["title"])).strip(),
        remediation=str(data.get("remediation", "")).strip(),
        references=[str(r) for r in data.get("references") or []],
        checks=checks,
        pack=pack,
        path=path,
        loaded_tests=None if data.get(ELIDED_TESTS) else tests,
        kics=[str(k) for k in data.get("kics") or []],
        frameworks=dict(data.get("frameworks") or {}),
        providers=[str(p) for p in data.get("providers") or []],
    )


def _rego(raw: dict[str, Any], path: str) -> tuple[str, str]:
    if "rego_file" in raw:
        policy_path = os.path.join(os.path.dirname(path), str(raw["rego_file"]))
        try:
            with open(policy_path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise PolicyError(
                f"cannot read Rego policy: {error}", file=path, field="rego_file"
            ) from error
    else:
        text = str(raw["rego"])
    return text, str(raw.get("query", "data.sentier.deny"))


def _read_rule_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise PolicyError(f"cannot read: {error.strerror}", file=path) from error


def _parse_yaml(text: str, path: str) -> Any:
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise PolicyError(
            f"YAML syntax error: {error.problem}", file=path, line=mark.line + 1 if mark else None
        ) from error


def load_rule_file(path: str, pack: str) -> Rule:
    text = _read_rule_text(path)
    return parse_rule(_parse_yaml(text, path), path, pack, text)


def _builtin_pack(pack_dir: FsPath) -> list[Rule]:
    """A built-in pack's rules, their YAML read through the compiled cache."""
    from sentier.policy.rules.compiled import pack_data

    files = rule_files(str(pack_dir))
    rules = []
    for path, data in pack_data(
        pack_dir.parent, pack_dir.name, files, lambda p: _parse_yaml(_read_rule_text(p), p)
    ):
        try:
            rules.append(parse_rule(data, path, pack_dir.name))
        except PolicyError:
            # Report with the file's text at hand, so the error names the line.
            rules.append(load_rule_file(path, pack_dir.name))
    return rules


def rule_files(directory: str) -> list[str]:
    out = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.endswith((".yaml", ".yml")) and not name.startswith("_"):
                out.append(os.path.join(root, name))
    return out


def load_rules(
    extra_dirs: Sequence[str | os.PathLike[str]] = (),
    *,
    packs: Sequence[str] | None = None,
) -> list[Rule]:
    """The built-in packs (all, or those named) and the rules found in ``extra_dirs``."""
    rules: list[Rule] = []
    for pack_dir in sorted(PACKS_DIR.iterdir()) if PACKS_DIR.is_dir() else []:
        if (
            not pack_dir.is_dir()
            or pack_dir.name.startswith("__")
            or (packs is not None and pack_dir.name not in packs)
        ):
            continue
        rules.extend(_builtin_pack(pack_dir))
    for directory in extra_dirs:
        directory = str(directory)
        if os.path.isfile(directory):
            rules.append(load_rule_file(directory, "custom"))
            continue
        if not os.path.isdir(directory):
            raise PolicyError("rules directory not found", file=directory)
        for path in rule_files(directory):
            rules.append(load_rule_file(path, "custom"))
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.id in seen:
            raise PolicyError(
                f"rule id {rule.id} is also defined in {seen[rule.id]}", file=rule.path, field="id"
            )
        seen[rule.id] = rule.path
    return rules


# -- running -----------------------------------------------------------------------------


def _format(template: str, resource: Resource) -> str:
    try:
        return template.format(name=resource.name, address=resource.address, type=resource.type)
    except (KeyError, IndexError, ValueError):
        return template


def _report_locs(
    check: Check, resource: Resource, witnesses: list[tuple[Loc, str | None]]
) -> list[tuple[Loc, str | None]]:
    if check.report_resource:
        return [((resource.file, resource.line), witnesses[0][1] if witnesses else None)]
    if check.report:
        for path in check.report:
            if resource.get(path) is not None:
                return [(resource.loc_of(path), None)]
        return [(resource.loc_of(check.report[-1]), None)]
    return witnesses or [((resource.file, resource.line), None)]


def run_rules(rules: Sequence[Rule], context: Context) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, str, int]] = set()
    for rule in rules:
        for check in rule.checks:
            for resource in context.of_types(check.types):
                for loc, message in _evaluate(check, resource, context):
                    key = (rule.id, loc[0], loc[1])
                    if key in seen:
                        continue
                    seen.add(key)
                    findings.append(
                        Finding(
                            rule_id=rule.id,
                            title=rule.title,
                            severity=rule.severity,
                            category=rule.category,
                            message=message or _format(check.message or rule.title, resource),
                            file=loc[0],
                            line=loc[1],
                            resource=resource.address,
                            resource_type=resource.type,
                            pack=rule.pack,
                            remediation=rule.remediation,
                            references=rule.references,
                            source=resource.source,
                        )
                    )
    return findings


def _evaluate(check: Check, resource: Resource, context: Context) -> list[tuple[Loc, str | None]]:
    if check.when is not None:
        applies, _ = check.when(context, resource, ())
        if not applies:
            return []
    if check.rego is not None:
        return _evaluate_rego(check, resource)
    assert check.fail is not None
    result, witnesses = check.fail(context, resource, ())
    if result is None:
        context.undetermined += 1
        if check.unknown != "fail":
            return []
        result = True
    if not result:
        return []
    return _report_locs(check, resource, witnesses)


_REGO_ENGINES: dict[int, Any] = {}


def _evaluate_rego(check: Check, resource: Resource) -> list[tuple[Loc, str | None]]:
    import lakera_regorus

    text, query = check.rego
    engine = _REGO_ENGINES.get(id(check))
    if engine is None:
        engine = lakera_regorus.Engine()
        try:
            engine.add_policy("rule.rego", text)
        except Exception as error:
            raise PolicyError(f"invalid Rego policy: {error}") from error
        _REGO_ENGINES[id(check)] = engine
    engine.set_input(
        {
            "type": resource.type,
            "name": resource.name,
            "address": resource.address,
            "kind": resource.kind,
            "attributes": plain(resource.attrs),
        }
    )
    try:
        answer = engine.eval_query(query)
    except Exception as error:
        raise PolicyError(f"Rego query {query} failed: {error}") from error
    messages: list[str] = []
    for result in answer.get("result", []):
        for expression in result.get("expressions", []):
            value = expression.get("value")
            if isinstance(value, set | list | tuple):
                messages.extend(str(v) for v in value)
            elif value not in (None, False, set()):
                messages.append(str(value) if not isinstance(value, bool) else "")
    return [((resource.file, resource.line), m or None) for m in sorted(messages)]


def has_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)
