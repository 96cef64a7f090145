"""SARIF and JUnit as their real consumers read them: the OASIS SARIF 2.1.0 schema and what
GitHub code scanning requires; Jenkins xunit's ``junit-10.xsd`` and Apache Ant's JUnit schema,
each fetched from the package that ships it (see ``tests/_conformance/tools.py``)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentier.cli import app
from sentier.policy import PolicyError, render, scan_paths, write_baseline
from tests._conformance import tools
from tests._conformance.sarif_checks import github_checks, schema_errors

BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n  acl    = "public-read"\n}\n'
POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
    "    - name: a\n      image: nginx:latest\n      securityContext: {privileged: true}\n"
)


def _repository(tmp_path: Path) -> Path:
    """A git checkout with infrastructure under ``infra/`` (a space in a file name too)."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    infra = repo / "infra"
    (infra / "k8s").mkdir(parents=True)
    (infra / "main.tf").write_text(BUCKET, encoding="utf-8")
    (infra / "k8s" / "web pod.yaml").write_text(POD, encoding="utf-8")
    return repo


def _locations(document: dict) -> set[str]:
    return {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in document["runs"][0]["results"]
        for loc in result["locations"]
    }


def test_sarif_paths_are_relative_to_the_scan_root_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repository(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    seen = []
    for cwd, path in (
        (repo, "infra"),
        (repo / "infra", "."),
        (repo / "infra" / "k8s", ".."),
        (elsewhere, str(repo / "infra")),
    ):
        monkeypatch.chdir(cwd)
        document = json.loads(render(scan_paths([path]), "sarif"))
        run = document["runs"][0]
        assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
        for result in run["results"]:
            (location,) = result["locations"]
            assert location["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        seen.append(_locations(document))
    assert seen[0] == {"infra/main.tf", "infra/k8s/web%20pod.yaml"}
    assert all(s == seen[0] for s in seen)


def test_sarif_root_outside_a_repository_is_the_common_directory(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "main.tf").write_text(BUCKET, encoding="utf-8")
    (tmp_path / "b" / "pod.yaml").write_text(POD, encoding="utf-8")
    result = scan_paths([str(tmp_path / "a" / "main.tf"), str(tmp_path / "b")])
    assert result.root == str(tmp_path.resolve())
    assert _locations(json.loads(render(result, "sarif"))) == {"a/main.tf", "b/pod.yaml"}


def test_explicit_root_from_the_cli_and_paths_outside_it(tmp_path: Path) -> None:
    repo = _repository(tmp_path)
    runner = CliRunner()
    infra = str(repo / "infra")
    out = runner.invoke(app, ["scan", infra, "-f", "sarif", "--fail-on", "none", "--root", infra])
    assert out.exit_code == 0, out.output
    assert _locations(json.loads(out.stdout)) == {"main.tf", "k8s/web%20pod.yaml"}
    with pytest.raises(PolicyError, match="outside the scan root"):
        scan_paths([str(repo / "infra")], root=str(repo / "infra" / "k8s"))
    bad = runner.invoke(app, ["scan", str(repo), "--root", str(repo / "infra")])
    assert bad.exit_code == 2 and "outside the scan root" in bad.stderr


def _mixed_scan(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Open, suppressed and baselined findings, a parse error, a custom rule without
    references: every shape a report can hold."""
    repo = _repository(tmp_path)
    infra = repo / "infra"
    (infra / "main.tf").write_text(
        BUCKET.replace('"public-read"', '"public-read" # sentier:ignore SNT-AWS-S3-001 static'),
        encoding="utf-8",
    )
    (infra / "broken.tf").write_text('resource "x" "y" {\n  a = \n', encoding="utf-8")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "naming.yaml").write_text(
        "id: ORG-001\ntitle: Buckets carry the org prefix\nseverity: low\nchecks:\n"
        "  - resources: [aws_s3_bucket]\n    fail: {attr: bucket, not_matches: '^acme-'}\n",
        encoding="utf-8",
    )
    baseline = tmp_path / "baseline.json"
    first = scan_paths([str(infra)], rules_dirs=[str(rules)])
    write_baseline([f for f in first.findings if f.rule_id == "SNT-K8S-001"], str(baseline))
    result = scan_paths([str(infra)], rules_dirs=[str(rules)], baseline=str(baseline))
    assert {f.status for f in result.findings} == {"open", "suppressed", "baselined"}
    assert {"SNT-PARSE-001", "ORG-001"} <= {f.rule_id for f in result.findings}
    return result


def test_sarif_is_valid_and_meets_github_code_scanning(tmp_path: Path) -> None:
    document = json.loads(render(_mixed_scan(tmp_path), "sarif"))
    schema, _origin = tools.sarif_schema()
    assert schema_errors(document, schema) == []
    failed = {name: problems for name, problems in github_checks(document) if problems}
    assert failed == {}
    rules = {r["id"]: r for r in document["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["ORG-001"]["helpUri"].endswith("#ORG-001")
    assert rules["SNT-AWS-S3-001"]["helpUri"].startswith("https://docs.aws.amazon.com/")


def test_github_checks_catch_what_code_scanning_rejects(tmp_path: Path) -> None:
    """The checks can fail: a location without its base id, a result pointing at the wrong
    rule, a rule without a severity are each reported."""
    document = json.loads(render(_mixed_scan(tmp_path), "sarif"))
    run = document["runs"][0]
    del run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"]
    run["results"][1]["ruleIndex"] = (run["results"][1]["ruleIndex"] + 1) % len(
        run["tool"]["driver"]["rules"]
    )
    del run["tool"]["driver"]["rules"][0]["properties"]["security-severity"]
    failed = {name for name, problems in github_checks(document) if problems}
    assert failed == {
        "locations: relative uri with uriBaseId %SRCROOT%",
        "results: ruleId names a rule, ruleIndex points at it",
        "rules: security-severity in 0..10",
    }


@pytest.mark.parametrize("schema", ["jenkins", "ant"])
def test_junit_is_valid_against_both_schemas(tmp_path: Path, schema: str) -> None:
    xsd = tools.need(tools.jenkins_junit_xsd if schema == "jenkins" else tools.ant_junit_xsd)
    result = _mixed_scan(tmp_path)
    document = render(result, "junit")
    assert tools.xsd_errors(document, xsd) == {k: [] for k in tools.xsd_errors(document, xsd)}
    empty = tmp_path / "clean"
    empty.mkdir()
    (empty / "ok.tf").write_text('variable "x" {}\n', encoding="utf-8")
    clean = render(scan_paths([str(empty)]), "junit")
    assert all(errors == [] for errors in tools.xsd_errors(clean, xsd).values())
    assert len(ET.fromstring(clean).findall(".//testcase")) == 1


def test_junit_cases_name_rule_file_line_and_resource(tmp_path: Path) -> None:
    result = _mixed_scan(tmp_path)
    root = ET.fromstring(render(result, "junit"))
    cases = root.findall(".//testcase")
    assert len(cases) == len(result.findings)
    by_rule = {c.get("classname"): c for c in cases}
    assert by_rule["ORG-001"].get("name") == "infra/main.tf:2 aws_s3_bucket.b"
    suppressed = by_rule["SNT-AWS-S3-001"]
    assert suppressed.find("failure") is None  # accepted in source: passes
    assert "suppressed: SNT-AWS-S3-001 infra/main.tf:3" in root.find(".//system-out").text
    suite = root.find("testsuite")
    assert suite.get("failures") == str(len(result.open))
    assert all(c.get("time") == "0" for c in cases)
    assert float(suite.get("time")) >= 0


def test_junit_validators_reject_what_breaks_the_schemas(tmp_path: Path) -> None:
    """The schemas bite: a case without ``time`` fails Ant's, a suite without ``tests``
    fails both."""
    document = render(_mixed_scan(tmp_path), "junit")
    ant = tools.need(tools.ant_junit_xsd)
    jenkins = tools.need(tools.jenkins_junit_xsd)
    no_time = document.replace(' time="0"', "", 1)
    assert all(tools.xsd_errors(no_time, ant).values())
    no_tests = document.replace(' tests="', ' x="', 1)
    assert all(tools.xsd_errors(no_tests, jenkins).values())


def test_reports_do_not_depend_on_a_copy_of_the_tree(tmp_path: Path) -> None:
    """Two checkouts of one repository give the same SARIF locations and fingerprints."""
    repo = _repository(tmp_path)
    clone = tmp_path / "ci" / "checkout"
    shutil.copytree(repo, clone)
    one = json.loads(render(scan_paths([str(repo / "infra")]), "sarif"))["runs"][0]["results"]
    two = json.loads(render(scan_paths([str(clone / "infra")]), "sarif"))["runs"][0]["results"]
    strip = [{k: r[k] for k in ("ruleId", "locations", "partialFingerprints")} for r in one]
    assert strip == [{k: r[k] for k in ("ruleId", "locations", "partialFingerprints")} for r in two]
