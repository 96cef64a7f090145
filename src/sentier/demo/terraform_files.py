"""Writes the demo organisation's cloud resources as Terraform, one directory per system.

Resources come from the same seeded organisation as the catalog (provider, region, cloud id,
data classification), with a few deliberate mistakes so that ``sentier scan`` on the demo
shows real findings: a public bucket, an unencrypted database, SSH open to the internet,
restricted data outside what the sovereignty policy allows, and missing tags.
"""

from __future__ import annotations

from pathlib import Path

from sentier.demo.organisation import Organisation, Resource

_PROVIDERS = {
    "aws": 'provider "aws" {{\n  region = "{region}"\n}}\n',
    "gcp": 'provider "google" {{\n  project = "acme-data"\n  region  = "{region}"\n}}\n',
}


def _tags(resource: Resource, *, complete: bool = True) -> str:
    tags = {
        "team": resource.owner,
        "service": resource.service if not complete else resource.system,
        "environment": "production",
        "data-classification": resource.classification,
    }
    if not complete:
        tags.pop("service")
    body = "\n".join(f'    {k:<19} = "{v}"' for k, v in tags.items())
    return "  tags = {\n" + body + "\n  }\n"


def _aws(resource: Resource, index: int) -> str:
    name = resource.name.replace("-", "_")
    complete = index % 5 != 3
    if resource.type == "bucket":
        public = 'acl    = "public-read"' if index % 7 == 1 else 'acl    = "private"'
        return (
            f'resource "aws_s3_bucket" "{name}" {{\n  bucket = "acme-{resource.name}"\n'
            f"{_tags(resource, complete=complete)}}}\n\n"
            f'resource "aws_s3_bucket_acl" "{name}" {{\n  bucket = aws_s3_bucket.{name}.id\n  {public}\n}}\n\n'  # noqa: E501
            f'resource "aws_s3_bucket_versioning" "{name}" {{\n  bucket = aws_s3_bucket.{name}.id\n'
            '  versioning_configuration {\n    status = "Enabled"\n  }\n}\n\n'
            f'resource "aws_s3_bucket_public_access_block" "{name}" {{\n'
            f"  bucket                  = aws_s3_bucket.{name}.id\n"
            "  block_public_acls       = true\n  block_public_policy     = true\n"
            "  ignore_public_acls      = true\n  restrict_public_buckets = true\n}\n"
        )
    if resource.type == "database":
        encrypted = "false" if index % 4 == 0 else "true"
        return (
            f'resource "aws_db_instance" "{name}" {{\n  identifier          = "{resource.name}"\n'
            f'  engine              = "postgres"\n  instance_class      = "db.t3.medium"\n'
            f"  storage_encrypted   = {encrypted}\n  publicly_accessible = false\n"
            f"{_tags(resource, complete=complete)}}}\n"
        )
    if resource.type == "queue":
        return (
            f'resource "aws_sqs_queue" "{name}" {{\n  name                    = "{resource.name}"\n'
            f"  sqs_managed_sse_enabled = true\n{_tags(resource, complete=complete)}}}\n"
        )
    return (
        f'resource "aws_elasticache_cluster" "{name}" {{\n  cluster_id = "{resource.name}"\n'
        f'  engine     = "redis"\n{_tags(resource, complete=complete)}}}\n'
    )


def _gcp(resource: Resource, index: int) -> str:
    name = resource.name.replace("-", "_")
    labels = (
        f'  labels = {{\n    team                = "{resource.owner}"\n'
        f'    service             = "{resource.system}"\n    environment         = "production"\n'
        f'    data-classification = "{resource.classification}"\n  }}\n'
    )
    if resource.type == "bucket":
        return (
            f'resource "google_storage_bucket" "{name}" {{\n  name     = "acme-{resource.name}"\n'
            f'  location = "EUROPE-WEST1"\n  versioning {{\n    enabled = true\n  }}\n'
            f'  logging {{\n    log_bucket = "acme-logs"\n  }}\n{labels}}}\n'
        )
    if resource.type == "database":
        return (
            f'resource "google_sql_database_instance" "{name}" {{\n  name             = "{resource.name}"\n'  # noqa: E501
            f'  region           = "europe-west1"\n  database_version = "POSTGRES_15"\n'
            '  settings {\n    tier = "db-custom-2-7680"\n    ip_configuration {\n'
            '      ipv4_enabled    = false\n      private_network = "projects/acme-data/global/networks/main"\n'  # noqa: E501
            f'    }}\n    user_labels = {{ team = "{resource.owner}" }}\n  }}\n}}\n'
        )
    return f'resource "google_pubsub_topic" "{name}" {{\n  name = "{resource.name}"\n{labels}}}\n'


def write_terraform(org: Organisation, root: Path) -> dict[str, int]:
    """Write ``root/terraform/<system>/main.tf`` for every system's cloud resources."""
    base = root / "terraform"
    by_system: dict[str, list[Resource]] = {}
    for resource in org.resources:
        by_system.setdefault(resource.system, []).append(resource)
    files = 0
    written = 0
    for index, (system, resources) in enumerate(sorted(by_system.items())):
        provider = resources[0].provider
        region = resources[0].region
        parts = [_PROVIDERS[provider].format(region=region)]
        for offset, resource in enumerate(resources):
            serial = index * 10 + offset
            parts.append(_aws(resource, serial) if provider == "aws" else _gcp(resource, serial))
            written += 1
        if system == "observability":
            parts.append(
                'resource "aws_security_group" "bastion" {\n  name = "bastion"\n  ingress {\n'
                '    from_port   = 22\n    to_port     = 22\n    protocol    = "tcp"\n'
                '    cidr_blocks = ["0.0.0.0/0"]\n  }\n  tags = {\n    team        = "team-sre"\n'
                '    service     = "observability"\n    environment = "production"\n  }\n}\n'
            )
        directory = base / system
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "main.tf").write_text("\n".join(parts), encoding="utf-8")
        files += 1
    # Each system's directory belongs to that system, so stored findings reach its page.
    mappings = "".join(
        f'  - path: "{system}/**"\n    entity: system:default/{system}\n'
        for system in sorted(by_system)
    )
    (base / "sentier-policy.yaml").write_text(
        "# Attribution of the demo's findings (sentier scan --store, sentier demo up)\n"
        "path_mappings:\n" + mappings,
        encoding="utf-8",
    )
    return {"terraform_files": files, "terraform_resources": written}
