# ruff: noqa: E501 - samples and fixtures read better on one line
"""Drift between a Terraform state and live inventories of each documented format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentier.cli import app
from sentier.policy import PolicyError, detect_drift

STATE = {
    "version": 4,
    "terraform_version": "1.9.0",
    "resources": [
        {
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "logs",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [
                {"attributes": {"id": "acme-logs", "bucket": "acme-logs", "tags": {"team": "sre"}}}
            ],
        },
        {
            "mode": "managed",
            "type": "aws_instance",
            "name": "web",
            "instances": [{"attributes": {"id": "i-123", "instance_type": "t3.micro", "tags": {}}}],
        },
        {
            "mode": "managed",
            "type": "aws_security_group",
            "name": "gone",
            "instances": [{"attributes": {"id": "sg-1", "name": "gone"}}],
        },
    ],
}

AWS_CONFIG = {
    "fileVersion": "1.0",
    "configurationItems": [
        {
            "resourceType": "AWS::S3::Bucket",
            "resourceId": "acme-logs",
            "resourceName": "acme-logs",
            "tags": {"team": "platform"},
        },
        {
            "resourceType": "AWS::EC2::Instance",
            "resourceId": "i-123",
            "configuration": {"instanceType": "t3.large"},
            "tags": {},
        },
        {
            "resourceType": "AWS::S3::Bucket",
            "resourceId": "shadow-bucket",
            "resourceName": "shadow-bucket",
        },
    ],
}


def _files(tmp_path: Path, inventory: object, name: str = "inventory.json") -> tuple[str, str]:
    state = tmp_path / "terraform.tfstate"
    state.write_text(json.dumps(STATE, indent=2), encoding="utf-8")
    inv = tmp_path / name
    inv.write_text(json.dumps(inventory), encoding="utf-8")
    return str(state), str(inv)


def test_aws_config_snapshot(tmp_path: Path) -> None:
    report = detect_drift(*_files(tmp_path, AWS_CONFIG))
    assert report.inventory_format == "aws-config"
    assert [m["address"] for m in report.missing] == ["aws_security_group.gone"]
    assert [u["name"] for u in report.unmanaged] == ["shadow-bucket"]
    changed = {c["address"]: {d["attribute"] for d in c["differences"]} for c in report.changed}
    assert changed == {"aws_s3_bucket.logs": {"tags"}, "aws_instance.web": {"instance_type"}}


def test_azure_resource_graph_and_gcp_assets(tmp_path: Path) -> None:
    state = dict(STATE)
    state["resources"] = [
        {
            "mode": "managed",
            "type": "azurerm_storage_account",
            "name": "s",
            "instances": [
                {
                    "attributes": {
                        "id": "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acme",
                        "location": "francecentral",
                        "min_tls_version": "TLS1_2",
                    }
                }
            ],
        }
    ]
    (tmp_path / "s.tfstate").write_text(json.dumps(state), encoding="utf-8")
    graph = {
        "data": [
            {
                "id": "/subscriptions/1/resourcegroups/rg/providers/microsoft.storage/storageaccounts/acme",
                "type": "microsoft.storage/storageaccounts",
                "name": "acme",
                "location": "francecentral",
                "properties": {"minimumTlsVersion": "TLS1_0"},
            }
        ]
    }
    (tmp_path / "g.json").write_text(json.dumps(graph), encoding="utf-8")
    report = detect_drift(str(tmp_path / "s.tfstate"), str(tmp_path / "g.json"))
    assert report.inventory_format == "azure-resource-graph"
    assert report.changed[0]["differences"][0]["attribute"] == "min_tls_version"
    assets = "\n".join(
        json.dumps(a)
        for a in (
            {
                "name": "//storage.googleapis.com/orphan",
                "asset_type": "storage.googleapis.com/Bucket",
                "resource": {"data": {}},
            },
            {
                "name": "//compute.googleapis.com/projects/p/zones/z/instances/vm",
                "asset_type": "compute.googleapis.com/Instance",
                "resource": {"data": {}},
            },
        )
    )
    (tmp_path / "assets.json").write_text(assets, encoding="utf-8")
    report = detect_drift(str(tmp_path / "s.tfstate"), str(tmp_path / "assets.json"))
    assert report.inventory_format == "gcp-asset"
    assert {u["name"] for u in report.unmanaged} == {"orphan", "vm"}


def test_neutral_format_and_cli(tmp_path: Path) -> None:
    neutral = {
        "resources": [
            {"type": "aws_s3_bucket", "id": "acme-logs", "attributes": {"tags": {"team": "sre"}}}
        ]
    }
    state, inventory = _files(tmp_path, neutral)
    result = CliRunner().invoke(
        app, ["drift", "--state", state, "--inventory", inventory, "--fail-on-drift"]
    )
    assert result.exit_code == 1
    assert "MISSING   aws_instance.web" in result.stdout
    assert "CHANGED" not in result.stdout


def test_bad_state_names_the_file(tmp_path: Path) -> None:
    state = tmp_path / "s.tfstate"
    state.write_text('{"version": 3, "resources": []}', encoding="utf-8")
    inventory = tmp_path / "i.json"
    inventory.write_text('{"resources": []}', encoding="utf-8")
    with pytest.raises(PolicyError, match="version 4"):
        detect_drift(str(state), str(inventory))
