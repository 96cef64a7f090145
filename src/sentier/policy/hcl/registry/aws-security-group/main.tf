# sentier's model of terraform-aws-modules/security-group
variable "create" { default = true }
variable "name" { default = null }
variable "description" { default = "Security Group managed by Terraform" }
variable "vpc_id" { default = null }
variable "ingress_rules" { default = [] }
variable "ingress_cidr_blocks" { default = [] }
variable "ingress_ipv6_cidr_blocks" { default = [] }
variable "ingress_with_cidr_blocks" { default = [] }
variable "egress_rules" { default = [] }
variable "egress_cidr_blocks" { default = ["0.0.0.0/0"] }
variable "ingress" { default = [] }
variable "egress" { default = [] }
variable "tags" { default = {} }

locals {
  # name = [from_port, to_port, protocol], as the module's own rule table names them
  rules = {
    "all-all"         = [-1, -1, "-1"]
    "ssh-tcp"         = [22, 22, "tcp"]
    "rdp-tcp"         = [3389, 3389, "tcp"]
    "rdp-udp"         = [3389, 3389, "udp"]
    "http-80-tcp"     = [80, 80, "tcp"]
    "https-443-tcp"   = [443, 443, "tcp"]
    "mysql-tcp"       = [3306, 3306, "tcp"]
    "postgresql-tcp"  = [5432, 5432, "tcp"]
    "mssql-tcp"       = [1433, 1433, "tcp"]
    "redis-tcp"       = [6379, 6379, "tcp"]
    "mongodb-27017-tcp" = [27017, 27017, "tcp"]
    "elasticsearch-rest-tcp" = [9200, 9200, "tcp"]
    "kafka-broker-tcp" = [9092, 9092, "tcp"]
    "winrm-http-tcp"  = [5985, 5985, "tcp"]
    "winrm-https-tcp" = [5986, 5986, "tcp"]
  }
}

resource "aws_security_group" "this" {
  count       = var.create ? 1 : 0
  name        = var.name
  description = var.description
  vpc_id      = var.vpc_id
  tags        = var.tags
  dynamic "ingress" {
    for_each = var.ingress
    content {
      from_port        = lookup(ingress.value, "from_port", null)
      to_port          = lookup(ingress.value, "to_port", null)
      protocol         = lookup(ingress.value, "protocol", null)
      cidr_blocks      = lookup(ingress.value, "cidr_blocks", null)
      ipv6_cidr_blocks = lookup(ingress.value, "ipv6_cidr_blocks", null)
      description      = lookup(ingress.value, "description", null)
    }
  }
}

resource "aws_security_group_rule" "ingress_rules" {
  count             = var.create ? length(var.ingress_rules) : 0
  security_group_id = aws_security_group.this[0].id
  type              = "ingress"
  cidr_blocks       = var.ingress_cidr_blocks
  ipv6_cidr_blocks  = var.ingress_ipv6_cidr_blocks
  from_port         = lookup(local.rules, var.ingress_rules[count.index], [null, null, null])[0]
  to_port           = lookup(local.rules, var.ingress_rules[count.index], [null, null, null])[1]
  protocol          = lookup(local.rules, var.ingress_rules[count.index], [null, null, null])[2]
}

resource "aws_security_group_rule" "ingress_with_cidr_blocks" {
  count             = var.create ? length(var.ingress_with_cidr_blocks) : 0
  security_group_id = aws_security_group.this[0].id
  type              = "ingress"
  cidr_blocks       = compact(split(",", lookup(var.ingress_with_cidr_blocks[count.index], "cidr_blocks", join(",", var.ingress_cidr_blocks))))
  from_port         = lookup(var.ingress_with_cidr_blocks[count.index], "from_port", lookup(local.rules, lookup(var.ingress_with_cidr_blocks[count.index], "rule", "_"), [null])[0])
  to_port           = lookup(var.ingress_with_cidr_blocks[count.index], "to_port", lookup(local.rules, lookup(var.ingress_with_cidr_blocks[count.index], "rule", "_"), [null, null])[1])
  protocol          = lookup(var.ingress_with_cidr_blocks[count.index], "protocol", lookup(local.rules, lookup(var.ingress_with_cidr_blocks[count.index], "rule", "_"), [null, null, null])[2])
}

output "security_group_id" { value = try(aws_security_group.this[0].id, "") }
