# sentier's model of terraform-aws-modules/vpc
variable "create_vpc" { default = true }
variable "name" { default = "" }
variable "cidr" { default = "10.0.0.0/16" }
variable "azs" { default = [] }
variable "public_subnets" { default = [] }
variable "private_subnets" { default = [] }
variable "database_subnets" { default = [] }
variable "map_public_ip_on_launch" { default = false }
variable "enable_nat_gateway" { default = false }
variable "enable_vpn_gateway" { default = false }
variable "enable_flow_log" { default = false }
variable "flow_log_destination_type" { default = "cloud-watch-logs" }
variable "flow_log_traffic_type" { default = "ALL" }
variable "manage_default_security_group" { default = true }
variable "default_security_group_ingress" { default = [] }
variable "default_security_group_egress" { default = [] }
variable "manage_default_network_acl" { default = true }
variable "enable_dns_hostnames" { default = true }
variable "enable_dns_support" { default = true }
variable "tags" { default = {} }

resource "aws_vpc" "this" {
  count                = var.create_vpc ? 1 : 0
  cidr_block           = var.cidr
  enable_dns_hostnames = var.enable_dns_hostnames
  enable_dns_support   = var.enable_dns_support
  tags                 = merge({ "Name" = var.name }, var.tags)
}

resource "aws_flow_log" "this" {
  count                = var.create_vpc && var.enable_flow_log ? 1 : 0
  vpc_id               = aws_vpc.this[0].id
  traffic_type         = var.flow_log_traffic_type
  log_destination_type = var.flow_log_destination_type
  tags                 = var.tags
}

resource "aws_subnet" "public" {
  count                   = var.create_vpc ? length(var.public_subnets) : 0
  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = element(concat(var.public_subnets, [""]), count.index)
  map_public_ip_on_launch = var.map_public_ip_on_launch
  tags                    = var.tags
}

resource "aws_subnet" "private" {
  count      = var.create_vpc ? length(var.private_subnets) : 0
  vpc_id     = aws_vpc.this[0].id
  cidr_block = element(concat(var.private_subnets, [""]), count.index)
  tags       = var.tags
}

resource "aws_default_security_group" "this" {
  count  = var.create_vpc && var.manage_default_security_group ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  dynamic "ingress" {
    for_each = var.default_security_group_ingress
    content {
      from_port   = lookup(ingress.value, "from_port", 0)
      to_port     = lookup(ingress.value, "to_port", 0)
      protocol    = lookup(ingress.value, "protocol", "-1")
      cidr_blocks = compact(split(",", lookup(ingress.value, "cidr_blocks", "")))
    }
  }
  dynamic "egress" {
    for_each = var.default_security_group_egress
    content {
      from_port   = lookup(egress.value, "from_port", 0)
      to_port     = lookup(egress.value, "to_port", 0)
      protocol    = lookup(egress.value, "protocol", "-1")
      cidr_blocks = compact(split(",", lookup(egress.value, "cidr_blocks", "")))
    }
  }
  tags = var.tags
}

output "vpc_id" { value = try(aws_vpc.this[0].id, null) }
output "public_subnets" { value = aws_subnet.public[*].id }
output "private_subnets" { value = aws_subnet.private[*].id }
