"""HCL evaluation: expressions, functions, variables, modules, locations and unknowns."""

from __future__ import annotations

from pathlib import Path

from sentier.policy import Unknown, load_paths


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def resources(directory: Path) -> dict[str, object]:
    return {r.address: r for r in load_paths([str(directory)]).resources}


def test_expressions_functions_and_locations(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        """variable "env" {
  default = "prod"
}
locals {
  base = { team = "pay" }
  tags = merge(local.base, { env = var.env })
}
resource "aws_s3_bucket" "b" {
  bucket = "logs-${var.env}"
  tags   = local.tags
  acl    = var.env == "prod" ? "private" : "public-read"
  policy = jsonencode({ Statement = [{ Effect = "Allow" }] })
  n      = length(concat(["a"], ["b", "c"])) * 2
  up     = upper(lookup({ a = "x" }, "a", "y"))
  cidr   = cidrsubnet("10.0.0.0/16", 8, 2)
  list   = [for s in ["a", "b"] : "${s}1" if s != "b"]
  id     = aws_kms_key.k.arn
}
""",
    )
    bucket = resources(tmp_path)["aws_s3_bucket.b"]
    assert bucket.attrs["bucket"] == "logs-prod"
    assert bucket.attrs["tags"] == {"team": "pay", "env": "prod"}
    assert bucket.attrs["acl"] == "private"
    assert '"Effect":"Allow"' in bucket.attrs["policy"]
    assert bucket.attrs["n"] == 6 and bucket.attrs["up"] == "X"
    assert bucket.attrs["cidr"] == "10.0.2.0/24"
    assert bucket.attrs["list"] == ["a1"]
    assert isinstance(bucket.attrs["id"], Unknown) and bucket.attrs["id"].refs == {"aws_kms_key.k"}
    # Each attribute keeps its own line; nested map keys too.
    assert bucket.locs[("acl",)][1] == 11
    assert bucket.locs[("tags", "team")][1] == 5


def test_count_for_each_dynamic_and_tfvars(tmp_path: Path) -> None:
    write(tmp_path, "terraform.tfvars", "ports = [22, 443]\n")
    write(
        tmp_path,
        "main.tf",
        """variable "ports" {}
variable "names" {
  default = ["a", "b"]
}
resource "aws_security_group" "s" {
  count = 2
  name  = "sg-${count.index}"
  dynamic "ingress" {
    for_each = var.ports
    content {
      from_port = ingress.value
    }
  }
}
resource "aws_sqs_queue" "q" {
  for_each = toset(var.names)
  name     = each.key
}
""",
    )
    found = resources(tmp_path)
    assert found["aws_security_group.s[1]"].attrs["name"] == "sg-1"
    ingress = found["aws_security_group.s[0]"].attrs["ingress"]
    assert [i["from_port"] for i in ingress] == [22, 443]
    # Each generated block points at the dynamic block's content line.
    assert found["aws_security_group.s[0]"].locs[("ingress", 0, "from_port")][1] == 11
    assert found['aws_sqs_queue.q["b"]'].attrs["name"] == "b"


def test_unknown_count_keeps_one_instance_and_unknown_values_stay_unknown(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        """variable "n" {}
resource "aws_instance" "i" {
  count = var.n
  associate_public_ip_address = var.n > 0
}
""",
    )
    instance = resources(tmp_path)["aws_instance.i[0]"]
    assert isinstance(instance.attrs["associate_public_ip_address"], Unknown)


def test_local_module_inputs_flow_with_caller_lines(tmp_path: Path) -> None:
    write(
        tmp_path,
        "modules/bucket/main.tf",
        """variable "acl" {
  default = "private"
}
resource "aws_s3_bucket_acl" "this" {
  acl = var.acl
}
output "acl" {
  value = aws_s3_bucket_acl.this.acl
}
""",
    )
    write(
        tmp_path,
        "main.tf",
        """module "b" {
  source = "./modules/bucket"
  acl    = "public-read"
}
""",
    )
    found = resources(tmp_path / "main.tf")
    acl = found["module.b.aws_s3_bucket_acl.this"]
    assert acl.attrs["acl"] == "public-read"
    assert acl.locs[("acl",)] == (str(tmp_path / "main.tf"), 3)
    assert found["module.b"].kind == "module"


def test_registry_module_resolved_offline(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        """module "vpc" {
  source          = "terraform-aws-modules/vpc/aws"
  cidr            = "10.1.0.0/16"
  public_subnets  = ["10.1.1.0/24"]
  enable_flow_log = true
}
""",
    )
    found = resources(tmp_path)
    assert found["module.vpc.aws_vpc.this[0]"].attrs["cidr_block"] == "10.1.0.0/16"
    assert "module.vpc.aws_flow_log.this[0]" in found
    # Lines inside sentier's module model are shown at the user's module call.
    assert found["module.vpc.aws_vpc.this[0]"].file == str(tmp_path / "main.tf")


def test_syntax_error_is_a_problem_and_other_files_still_load(tmp_path: Path) -> None:
    write(tmp_path, "broken.tf", 'resource "aws_s3_bucket" "x" {\n  acl = \n}\n')
    write(tmp_path, "good.tf", 'resource "aws_s3_bucket" "y" {\n  bucket = "y"\n}\n')
    loaded = load_paths([str(tmp_path)])
    assert any(r.address == "aws_s3_bucket.y" for r in loaded.resources)
    assert loaded.problems and loaded.problems[0].file.endswith("broken.tf")
    assert loaded.problems[0].line in (2, 3)


def test_template_directives_if_for_and_strip_markers(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        """variable "public" { default = true }
variable "ports" { default = { ssh = 22, https = 443 } }
variable "names" { default = ["a", "b"] }
resource "aws_s3_bucket" "b" {
  acl    = "%{ if var.public }public-read%{ else }private%{ endif }"
  bucket = "x-%{ if !var.public }private%{ endif }"
  tags = {
    ports = "%{ for name, port in var.ports }${name}=${port};%{ endfor }"
    names = <<-EOT
      %{~ for n in var.names ~}
      ${n}
      %{~ endfor ~}
    EOT
    lines = <<-EOT
      %{ for n in var.names }
        - ${n}
      %{ endfor }
    EOT
    later = "%{ if aws_kms_key.k.arn != "" }kms%{ endif }"
  }
}
""",
    )
    bucket = resources(tmp_path)["aws_s3_bucket.b"]
    assert bucket.attrs["acl"] == "public-read"
    assert bucket.attrs["bucket"] == "x-"
    tags = bucket.attrs["tags"]
    assert tags["ports"] == "https=443;ssh=22;"
    assert tags["names"] == "ab"
    assert tags["lines"] == "\n  - a\n\n  - b\n\n"
    assert isinstance(tags["later"], Unknown)  # depends on a value known only after apply


def test_public_acl_written_with_a_directive_is_flagged(tmp_path: Path) -> None:
    from sentier.policy import scan_paths

    write(
        tmp_path,
        "main.tf",
        """variable "site" { default = true }
resource "aws_s3_bucket" "b" {
  bucket = "b"
  acl    = "%{ if var.site }public-read%{ else }private%{ endif }"
}
""",
    )
    found = [f for f in scan_paths([str(tmp_path)]).findings if f.rule_id == "SNT-AWS-S3-001"]
    assert [f.line for f in found] == [4]
