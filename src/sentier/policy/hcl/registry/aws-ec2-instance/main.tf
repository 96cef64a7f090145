# sentier's model of terraform-aws-modules/ec2-instance
variable "create" { default = true }
variable "name" { default = "" }
variable "ami" { default = null }
variable "instance_type" { default = "t3.micro" }
variable "key_name" { default = null }
variable "monitoring" { default = null }
variable "subnet_id" { default = null }
variable "vpc_security_group_ids" { default = null }
variable "associate_public_ip_address" { default = null }
variable "network_interface" { default = [] }
variable "metadata_options" { default = {} }
variable "root_block_device" { default = [] }
variable "ebs_block_device" { default = [] }
variable "ebs_optimized" { default = null }
variable "iam_instance_profile" { default = null }
variable "user_data" { default = null }
variable "tags" { default = {} }

resource "aws_instance" "this" {
  count                       = var.create ? 1 : 0
  ami                         = var.ami
  instance_type               = var.instance_type
  key_name                    = var.key_name
  monitoring                  = var.monitoring
  subnet_id                   = length(var.network_interface) > 0 ? null : var.subnet_id
  vpc_security_group_ids      = length(var.network_interface) > 0 ? null : var.vpc_security_group_ids
  associate_public_ip_address = var.associate_public_ip_address
  ebs_optimized               = var.ebs_optimized
  iam_instance_profile        = var.iam_instance_profile
  user_data                   = var.user_data
  dynamic "network_interface" {
    for_each = var.network_interface
    content {
      device_index         = lookup(network_interface.value, "device_index", 0)
      network_interface_id = lookup(network_interface.value, "network_interface_id", null)
    }
  }
  dynamic "metadata_options" {
    for_each = length(var.metadata_options) > 0 ? [var.metadata_options] : []
    content {
      http_endpoint = lookup(metadata_options.value, "http_endpoint", "enabled")
      http_tokens   = lookup(metadata_options.value, "http_tokens", "optional")
    }
  }
  dynamic "root_block_device" {
    for_each = var.root_block_device
    content {
      encrypted   = lookup(root_block_device.value, "encrypted", null)
      volume_size = lookup(root_block_device.value, "volume_size", null)
    }
  }
  tags = merge({ "Name" = var.name }, var.tags)
}

output "id" { value = try(aws_instance.this[0].id, "") }
