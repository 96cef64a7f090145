"""Security findings through the API and the portal: scans stored from the server, findings
by entity, owner, rule, severity and state, a group's findings through what it owns, the
rules, the region registry; who may scan what."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.api.conftest import Tokens, wait_for_job

PUBLIC_BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n  acl    = "public-read"\n}\n'
OPEN_SSH = """resource "aws_security_group" "s" {
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""


def _infra(root: Path) -> Path:
    """Two services' Terraform inside the catalog's location, mapped to their entities."""
    infra = root / "catalog" / "infra"
    (infra / "checkout").mkdir(parents=True)
    (infra / "orders").mkdir(parents=True)
    (infra / "billing").mkdir(parents=True)
    (infra / "checkout" / "main.tf").write_text(PUBLIC_BUCKET, encoding="utf-8")
    (infra / "orders" / "main.tf").write_text(OPEN_SSH, encoding="utf-8")
    (infra / "billing" / "main.tf").write_text(OPEN_SSH, encoding="utf-8")
    config = {
        "path_mappings": [
            {"path": "checkout/**", "entity": "component:default/checkout"},
            {"path": "orders/**", "entity": "resource:default/orders-db"},
            {"path": "billing/**", "entity": "component:default/billing"},
        ]
    }
    (infra / "sentier-policy.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return infra


@pytest.fixture
def scanned(client: TestClient, tokens: Tokens, tmp_path: Path) -> Path:
    infra = _infra(tmp_path)
    response = client.post(
        "/api/v1/policy/scans",
        json={"paths": [str(infra)], "packs": ["security"], "target": "infra"},
        headers=tokens.header("admin"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["scan"]["target"] == "infra" and body["new"] == body["open"] > 0
    return infra


def test_findings_filtered_by_entity_rule_severity_and_owner(
    client: TestClient, tokens: Tokens, scanned: Path
) -> None:
    viewer = tokens.header("viewer")
    everything = client.get("/api/v1/policy/findings", headers=viewer).json()
    assert everything["total"] == len(everything["items"]) > 0
    public = client.get(
        "/api/v1/policy/findings",
        params={"entity": "component:default/checkout", "rule": "SNT-AWS-S3-001"},
        headers=viewer,
    ).json()
    assert public["total"] == 1
    finding = public["items"][0]
    assert finding["line"] == 3 and finding["state"] == "new"
    assert finding["owner_ref"] == "group:default/team-a"
    high = client.get(
        "/api/v1/policy/findings", params={"severity": ["high", "critical"]}, headers=viewer
    ).json()
    assert {f["severity"] for f in high["items"]} <= {"high", "critical"}
    assert {f["rule_id"] for f in high["items"]} >= {"SNT-AWS-S3-001", "SNT-AWS-SG-001"}
    team_b = client.get(
        "/api/v1/policy/findings", params={"owner": "group:default/team-b"}, headers=viewer
    ).json()
    assert team_b["total"] > 0
    assert {f["entity_ref"] for f in team_b["items"]} == {"component:default/billing"}
    page = client.get("/api/v1/policy/findings", params={"limit": 1, "offset": 1}, headers=viewer)
    assert page.json()["items"][0] == everything["items"][1]
    bad = client.get("/api/v1/policy/findings", params={"severity": "urgent"}, headers=viewer)
    assert bad.status_code == 422


def test_rescan_marks_fixed_and_still_open(
    client: TestClient, tokens: Tokens, scanned: Path
) -> None:
    (scanned / "checkout" / "main.tf").write_text(
        'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n', encoding="utf-8"
    )
    again = client.post(
        "/api/v1/policy/scans",
        json={"paths": [str(scanned)], "packs": ["security"], "target": "infra"},
        headers=tokens.header("admin"),
    ).json()
    assert again["fixed"] >= 1 and again["still_open"] > 0
    fixed = client.get(
        "/api/v1/policy/findings",
        params={"state": "fixed", "rule": "SNT-AWS-S3-001"},
        headers=tokens.header("viewer"),
    ).json()
    assert fixed["total"] == 1
    scans = client.get("/api/v1/policy/scans", headers=tokens.header("viewer")).json()
    assert [s["id"] for s in scans] == sorted((s["id"] for s in scans), reverse=True)
    one = client.get(f"/api/v1/policy/scans/{scans[0]['id']}", headers=tokens.header("viewer"))
    assert one.json()["fixed"] == again["fixed"]
    assert (
        client.get("/api/v1/policy/scans/999999", headers=tokens.header("viewer")).status_code
        == 404
    )


def test_entity_and_group_findings(client: TestClient, tokens: Tokens, scanned: Path) -> None:
    viewer = tokens.header("viewer")
    checkout = client.get(
        "/api/v1/entities/component/default/checkout/findings", headers=viewer
    ).json()
    assert checkout["open"] >= 1 and checkout["by_severity"]
    assert {f["entity_ref"] for f in checkout["findings"]} == {"component:default/checkout"}
    # team-a owns checkout directly and orders-db through its child group team-a1.
    team_a = client.get("/api/v1/entities/group/default/team-a/findings", headers=viewer).json()
    assert team_a["through"] == "owned entities"
    assert {f["entity_ref"] for f in team_a["findings"]} == {
        "component:default/checkout",
        "resource:default/orders-db",
    }
    missing = client.get("/api/v1/entities/component/default/ghost/findings", headers=viewer)
    assert missing.status_code == 404


def test_overview_counts_open_findings(client: TestClient, tokens: Tokens, scanned: Path) -> None:
    overview = client.get("/api/v1/policy/overview", headers=tokens.header("viewer")).json()
    assert overview["open"] == sum(overview["by_severity"].values()) > 0
    assert list(overview["by_severity"]) == [
        s for s in ("critical", "high", "medium", "low", "info") if s in overview["by_severity"]
    ]
    owners = {row["owner_ref"]: row["count"] for row in overview["by_owner"]}
    assert owners["group:default/team-b"] > 0
    assert overview["by_rule"][0]["severity"] == "critical"  # the public bucket first


def test_who_may_scan_what(client: TestClient, tokens: Tokens, tmp_path: Path) -> None:
    infra = _infra(tmp_path)
    viewer = client.post(
        "/api/v1/policy/scans", json={"paths": [str(infra)]}, headers=tokens.header("viewer")
    )
    assert viewer.status_code == 403
    # The editor acts for team-a, which owns entities located in the catalog directory.
    editor = client.post(
        "/api/v1/policy/scans",
        json={"paths": [str(infra / "checkout")], "packs": ["security"]},
        headers=tokens.header("editor"),
    )
    assert editor.status_code == 201, editor.text
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = client.post(
        "/api/v1/policy/scans", json={"paths": [str(elsewhere)]}, headers=tokens.header("editor")
    )
    assert outside.status_code == 403
    for bad in ([], ["relative/path"], [str(tmp_path / "missing")]):
        response = client.post(
            "/api/v1/policy/scans", json={"paths": bad}, headers=tokens.header("admin")
        )
        assert response.status_code in (400, 422), bad
    audit = client.get("/api/v1/audit", headers=tokens.header("admin")).json()
    scans = [e for e in audit if e["action"] == "policy.scan"]
    assert len(scans) == 1 and "team-a-ci" in scans[0]["actor"]
    assert any(e["outcome"] == "denied" and "elsewhere" in (e["target"] or "") for e in audit)


def test_scans_too_large_for_a_request_are_refused(
    client: TestClient, tokens: Tokens, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentier.api.views import policy as views

    monkeypatch.setattr(views, "MAX_SCAN_FILES", 2)
    infra = _infra(tmp_path)  # four files
    response = client.post(
        "/api/v1/policy/scans", json={"paths": [str(infra)]}, headers=tokens.header("admin")
    )
    assert response.status_code == 413 and "sentier scan --store" in response.json()["detail"]


def test_rules_and_regions(client: TestClient, tokens: Tokens) -> None:
    viewer = tokens.header("viewer")
    rules = client.get("/api/v1/policy/rules", params={"pack": "security"}, headers=viewer).json()
    assert len(rules) >= 120
    assert {r["provider"] for r in rules} == {"aws", "azure", "gcp", "kubernetes"}
    gcp = client.get(
        "/api/v1/policy/rules", params={"provider": "gcp", "severity": "critical"}, headers=viewer
    ).json()
    assert gcp and all(r["provider"] == "gcp" and r["severity"] == "critical" for r in gcp)
    rule = client.get("/api/v1/policy/rules/snt-aws-s3-001", headers=viewer).json()
    assert rule["id"] == "SNT-AWS-S3-001" and rule["remediation"] and rule["tests"]
    assert "path" not in rule
    assert client.get("/api/v1/policy/rules/NOPE-1", headers=viewer).status_code == 404
    regions = client.get(
        "/api/v1/sovereignty/regions", params={"provider": "azurerm"}, headers=viewer
    ).json()
    assert list(regions["providers"]) == ["azure"]
    france = next(r for r in regions["providers"]["azure"] if r["id"] == "francecentral")
    assert france["in_eu"] is True and "classifications" in regions["policy"]


def _login(client: TestClient, token: str) -> None:
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"token": token, "csrf": csrf, "next": "/"})


def test_portal_policy_page_rule_page_and_entity_sections(
    client: TestClient, tokens: Tokens, scanned: Path
) -> None:
    _login(client, tokens.viewer)
    home = client.get("/")
    assert 'href="/policy"' in home.text  # in the sidebar
    page = client.get("/policy")
    assert page.status_code == 200
    assert "SNT-AWS-S3-001" in page.text and 'href="/catalog/group/default/team-b"' in page.text
    assert 'href="/api/v1/policy/findings"' in page.text  # its JSON twin
    filtered = client.get("/policy", params={"severity": "critical"})
    listing = filtered.text.split('id="list-h"', 1)[1]  # below the overview cards
    assert "SNT-AWS-S3-001" in listing and "SNT-AWS-SG-001" not in listing
    rule = client.get("/policy/rules/SNT-AWS-S3-001")
    assert "How to fix" in rule.text and "/api/v1/policy/rules/SNT-AWS-S3-001" in rule.text
    assert client.get("/policy/rules/NOPE-1").status_code == 404
    entity = client.get("/catalog/component/default/checkout")
    assert "Security findings" in entity.text and "SNT-AWS-S3-001" in entity.text
    assert "/api/v1/entities/component/default/checkout/findings" in entity.text
    group = client.get("/catalog/group/default/team-a")
    assert "Security findings" in group.text and "orders-db" in group.text
    quiet = client.get("/catalog/api/default/checkout-api")
    assert "Security findings" not in quiet.text


def test_editors_scan_only_inside_sources_an_admin_registered(
    client: TestClient, tokens: Tokens, tmp_path: Path
) -> None:
    """A descriptor's source-location is written by whoever writes the descriptor: pushed by an
    editor, it does not widen what that editor may scan on the server."""
    secrets_dir = tmp_path / "server-secrets"
    secrets_dir.mkdir()
    (secrets_dir / "main.tf").write_text(PUBLIC_BUCKET, encoding="utf-8")
    editor = tokens.header("editor")
    doc = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: sneaky\n"
        f"  annotations:\n    backstage.io/source-location: 'dir:{secrets_dir}/'\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
    pushed = client.post(
        "/api/v1/sources/push", headers=editor, json={"name": "sneaky", "files": {"a.yaml": doc}}
    )
    assert wait_for_job(client, pushed.json()["job"], editor)["status"] == "succeeded"
    refused = client.post(
        "/api/v1/policy/scans", json={"paths": [str(secrets_dir)]}, headers=editor
    )
    assert refused.status_code == 403, refused.text
    admin = client.post(
        "/api/v1/policy/scans", json={"paths": [str(secrets_dir)]}, headers=tokens.header("admin")
    )
    assert admin.status_code == 201


def test_editors_cannot_take_over_a_scan_series_they_may_not_scan(
    client: TestClient, tokens: Tokens, tmp_path: Path
) -> None:
    """Naming another series as the target would mark its findings fixed."""
    ops = tmp_path / "ops"
    ops.mkdir()
    (ops / "main.tf").write_text(OPEN_SSH, encoding="utf-8")
    first = client.post(
        "/api/v1/policy/scans",
        json={"paths": [str(ops)], "packs": ["security"], "target": "ops"},
        headers=tokens.header("admin"),
    )
    assert first.status_code == 201 and first.json()["new"] > 0
    editor = tokens.header("editor")
    allowed = tmp_path / "catalog" / "empty"  # inside team-a's catalog location
    allowed.mkdir()
    hijack = client.post(
        "/api/v1/policy/scans",
        json={"paths": [str(allowed)], "packs": ["security"], "target": "ops"},
        headers=editor,
    )
    assert hijack.status_code == 403, hijack.text
    fixed = client.get(
        "/api/v1/policy/findings", params={"state": "fixed"}, headers=tokens.header("viewer")
    ).json()
    assert fixed["total"] == 0
    own = client.post(
        "/api/v1/policy/scans",
        json={"paths": [str(allowed)], "packs": ["security"], "target": "team-a-empty"},
        headers=editor,
    )
    assert own.status_code == 201, own.text
    again = client.post(
        "/api/v1/policy/scans",
        json={"paths": [str(allowed)], "packs": ["security"], "target": "team-a-empty"},
        headers=editor,
    )
    assert again.status_code == 201, again.text


def test_an_editors_scan_reads_nothing_outside_the_location_it_may_scan(
    client: TestClient, tokens: Tokens, tmp_path: Path
) -> None:
    """A symlink committed into a scanned tree, or file() in Terraform, must not copy a server
    file (here a stand-in for a key) into findings every viewer reads."""
    secret = tmp_path / "server-key.txt"
    secret.write_text("TOPSECRET-KEY-MATERIAL\n", encoding="utf-8")
    infra = tmp_path / "catalog" / "infra2"  # inside team-a's catalog location
    infra.mkdir(parents=True)
    (infra / "main.tf").symlink_to(secret)
    (infra / "bucket.tf").write_text(
        'resource "aws_s3_bucket" "b" {\n'
        f'  bucket = file("{secret}")\n  acl = "public-read"\n}}\n',
        encoding="utf-8",
    )
    response = client.post(
        "/api/v1/policy/scans",
        json={"paths": [str(infra)], "target": "infra2"},
        headers=tokens.header("editor"),
    )
    assert response.status_code == 201, response.text
    findings = client.get(
        "/api/v1/policy/findings", params={"limit": 1000}, headers=tokens.header("viewer")
    )
    assert findings.json()["total"] > 0  # the public bucket is still found
    assert "TOPSECRET" not in findings.text and "TOPSECRET" not in response.text
    # An admin's scan is not confined (modules and files outside the tree are common).
    admin = client.post(
        "/api/v1/policy/scans", json={"paths": [str(infra)]}, headers=tokens.header("admin")
    )
    assert admin.status_code == 201
