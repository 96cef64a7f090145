# ruff: noqa: E501 - samples and fixtures read better on one line
"""Kubernetes manifests and Terraform plan/state JSON in the one resource model."""

from __future__ import annotations

import json
from pathlib import Path

from sentier.policy import Unknown, load_paths, scan_paths


def test_kubernetes_views_lines_and_service_account_link(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(
        """apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: job
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: app
          containers:
            - name: c
              image: busybox:1.36
""",
        encoding="utf-8",
    )
    loaded = load_paths([str(tmp_path)])
    job = next(r for r in loaded.resources if r.type == "CronJob")
    assert job.meta["views"]["pod"] == ("spec", "jobTemplate", "spec", "template", "spec")
    assert job.meta["links"]["service_account"][0].name == "app"
    assert (
        job.loc_of(("spec", "jobTemplate", "spec", "template", "spec", "containers", 0, "image"))[1]
        == 19
    )


def test_malformed_yaml_document_is_a_finding_and_next_document_is_scanned(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a\n---\napiVersion: v1\nkind: Pod\n"
        "metadata:\n  name: b\nspec:\n  hostPID: true\n  containers:\n    - name: c\n      image: x:1\n",
        encoding="utf-8",
    )
    result = scan_paths([str(tmp_path)])
    parse = [f for f in result.findings if f.rule_id == "SNT-PARSE-001"]
    assert parse and parse[0].file.endswith("bad.yaml")
    assert any(f.rule_id == "SNT-K8S-003" and f.line == 10 for f in result.findings)


def test_plan_json_with_unknown_after_apply(tmp_path: Path) -> None:
    plan = {
        "format_version": "1.2",
        "planned_values": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_db_instance.d",
                        "mode": "managed",
                        "type": "aws_db_instance",
                        "name": "d",
                        "values": {"publicly_accessible": True, "storage_encrypted": None},
                    }
                ]
            }
        },
        "resource_changes": [
            {
                "address": "aws_db_instance.d",
                "change": {"after_unknown": {"storage_encrypted": True}},
            }
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan, indent=2), encoding="utf-8")
    loaded = load_paths([str(path)])
    db = loaded.resources[0]
    assert db.source == "plan" and isinstance(db.attrs["storage_encrypted"], Unknown)
    result = scan_paths([str(path)])
    public = [f for f in result.findings if f.rule_id == "SNT-AWS-RDS-002"]
    assert public and public[0].line == db.locs[("publicly_accessible",)][1]
    assert not [f for f in result.findings if f.rule_id == "SNT-AWS-RDS-001"]


def test_malformed_json_plan_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"planned_values": {', encoding="utf-8")
    result = scan_paths([str(path)])
    assert [f.rule_id for f in result.findings] == ["SNT-PARSE-001"]


TF_JSON = """{
  "//": "generated",
  "variable": {"open": {"default": ["0.0.0.0/0"]}},
  "locals": {"prefix": "acme-${var.env}"},
  "resource": {
    "aws_s3_bucket": {
      "b": {
        "bucket": "${local.prefix}-logs",
        "acl": "public-read"
      }
    },
    "aws_security_group": {
      "s": {
        "ingress": [{"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}],
        "dynamic": {
          "egress": {
            "for_each": [443, 8443],
            "content": {"from_port": "${egress.value}", "to_port": "${egress.value}", "protocol": "tcp"}
          }
        }
      }
    }
  },
  "variable": {"env": {"default": "prod"}}
}
"""


def test_terraform_json_syntax_with_templates_dynamic_blocks_and_tfvars(tmp_path: Path) -> None:
    (tmp_path / "main.tf.json").write_text(TF_JSON, encoding="utf-8")
    (tmp_path / "terraform.tfvars.json").write_text('{"env": "staging"}\n', encoding="utf-8")
    found = {r.address: r for r in load_paths([str(tmp_path)]).resources}
    bucket = found["aws_s3_bucket.b"]
    assert bucket.attrs["bucket"] == "acme-staging-logs"
    assert bucket.line == 7 and bucket.loc_of(("acl",))[1] == 9
    group = found["aws_security_group.s"]
    assert [e["from_port"] for e in group.attrs["egress"]] == [443, 8443]
    lines = {(f.rule_id, f.line) for f in scan_paths([str(tmp_path)], packs=["security"]).findings}
    assert ("SNT-AWS-S3-001", 9) in lines and ("SNT-AWS-SG-001", 14) in lines


def test_terraform_json_syntax_error_is_a_finding_and_the_rest_is_scanned(tmp_path: Path) -> None:
    (tmp_path / "broken.tf.json").write_text(
        '{\n  "resource": {\n    "x" 1\n  }\n}\n', encoding="utf-8"
    )
    (tmp_path / "main.tf").write_text(
        'resource "aws_s3_bucket" "b" {\n  acl = "public-read"\n}\n', encoding="utf-8"
    )
    findings = scan_paths([str(tmp_path)], packs=["security"]).findings
    parse = [f for f in findings if f.rule_id == "SNT-PARSE-001"]
    assert len(parse) == 1 and parse[0].line == 3 and parse[0].file.endswith("broken.tf.json")
    assert any(f.rule_id == "SNT-AWS-S3-001" and f.line == 2 for f in findings)
