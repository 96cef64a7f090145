# sentier's model of terraform-aws-modules/sqs before v4: no encryption unless a key is given
variable "create" { default = true }
variable "name" { default = null }
variable "kms_master_key_id" { default = null }
variable "visibility_timeout_seconds" { default = null }
variable "message_retention_seconds" { default = null }
variable "tags" { default = {} }

resource "aws_sqs_queue" "this" {
  count                      = var.create ? 1 : 0
  name                       = var.name
  kms_master_key_id          = var.kms_master_key_id
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  tags                       = var.tags
}

output "this_sqs_queue_id" { value = try(aws_sqs_queue.this[0].id, "") }
