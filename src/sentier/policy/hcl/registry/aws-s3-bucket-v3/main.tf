# sentier's model of terraform-aws-modules/s3-bucket (before v4: public access not blocked by default)
variable "create_bucket" { default = true }
variable "bucket" { default = null }
variable "bucket_prefix" { default = null }
variable "acl" { default = null }
variable "policy" { default = null }
variable "attach_policy" { default = false }
variable "attach_deny_insecure_transport_policy" { default = false }
variable "force_destroy" { default = false }
variable "tags" { default = {} }
variable "versioning" { default = {} }
variable "logging" { default = {} }
variable "server_side_encryption_configuration" { default = {} }
variable "lifecycle_rule" { default = [] }
variable "object_lock_enabled" { default = false }
variable "attach_public_policy" { default = true }
variable "block_public_acls" { default = false }
variable "block_public_policy" { default = false }
variable "ignore_public_acls" { default = false }
variable "restrict_public_buckets" { default = false }
variable "control_object_ownership" { default = false }
variable "object_ownership" { default = "BucketOwnerEnforced" }

resource "aws_s3_bucket" "this" {
  count               = var.create_bucket ? 1 : 0
  bucket              = var.bucket
  bucket_prefix       = var.bucket_prefix
  force_destroy       = var.force_destroy
  object_lock_enabled = var.object_lock_enabled
  tags                = var.tags
}

resource "aws_s3_bucket_acl" "this" {
  count  = var.create_bucket && var.acl != null ? 1 : 0
  bucket = aws_s3_bucket.this[0].id
  acl    = var.acl
}

resource "aws_s3_bucket_versioning" "this" {
  count  = var.create_bucket && length(var.versioning) > 0 ? 1 : 0
  bucket = aws_s3_bucket.this[0].id
  versioning_configuration {
    status     = lookup(var.versioning, "status", lookup(var.versioning, "enabled", false) ? "Enabled" : "Suspended")
    mfa_delete = lookup(var.versioning, "mfa_delete", false) ? "Enabled" : "Disabled"
  }
}

resource "aws_s3_bucket_logging" "this" {
  count         = var.create_bucket && length(var.logging) > 0 ? 1 : 0
  bucket        = aws_s3_bucket.this[0].id
  target_bucket = try(var.logging["target_bucket"], var.logging[0]["target_bucket"], null)
  target_prefix = try(var.logging["target_prefix"], null)
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  count  = var.create_bucket && length(var.server_side_encryption_configuration) > 0 ? 1 : 0
  bucket = aws_s3_bucket.this[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = try(var.server_side_encryption_configuration["rule"]["apply_server_side_encryption_by_default"]["sse_algorithm"], "AES256")
      kms_master_key_id = try(var.server_side_encryption_configuration["rule"]["apply_server_side_encryption_by_default"]["kms_master_key_id"], null)
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count  = var.create_bucket && var.attach_policy ? 1 : 0
  bucket = aws_s3_bucket.this[0].id
  policy = var.policy
}

# The module merges this statement into its one bucket policy; a separate resource here says
# the same to rules (a Deny on aws:SecureTransport = false for every principal).
resource "aws_s3_bucket_policy" "deny_insecure_transport" {
  count  = var.create_bucket && var.attach_deny_insecure_transport_policy ? 1 : 0
  bucket = aws_s3_bucket.this[0].id
  policy = jsonencode({
    Statement = [{
      Sid       = "denyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = ["arn:aws:s3:::${coalesce(var.bucket, "bucket")}", "arn:aws:s3:::${coalesce(var.bucket, "bucket")}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
}

resource "aws_s3_bucket_public_access_block" "this" {
  count                   = var.create_bucket && var.attach_public_policy ? 1 : 0
  bucket                  = aws_s3_bucket.this[0].id
  block_public_acls       = var.block_public_acls
  block_public_policy     = var.block_public_policy
  ignore_public_acls      = var.ignore_public_acls
  restrict_public_buckets = var.restrict_public_buckets
}

output "s3_bucket_id" { value = try(aws_s3_bucket.this[0].id, "") }
output "s3_bucket_arn" { value = try(aws_s3_bucket.this[0].arn, "") }
