# sentier's model of terraform-aws-modules/iam//modules/iam-assumable-role
variable "create_role" { default = false }
variable "role_name" { default = null }
variable "trusted_role_arns" { default = [] }
variable "trusted_role_services" { default = [] }
variable "role_requires_mfa" { default = true }
variable "custom_role_policy_arns" { default = [] }
variable "admin_role_policy_arn" { default = "arn:aws:iam::aws:policy/AdministratorAccess" }
variable "attach_admin_policy" { default = false }
variable "tags" { default = {} }

resource "aws_iam_role" "this" {
  count = var.create_role ? 1 : 0
  name  = var.role_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { AWS = var.trusted_role_arns, Service = var.trusted_role_services }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "admin" {
  count      = var.create_role && var.attach_admin_policy ? 1 : 0
  role       = aws_iam_role.this[0].name
  policy_arn = var.admin_role_policy_arn
}

resource "aws_iam_role_policy_attachment" "custom" {
  count      = var.create_role ? length(var.custom_role_policy_arns) : 0
  role       = aws_iam_role.this[0].name
  policy_arn = var.custom_role_policy_arns[count.index]
}

output "iam_role_arn" { value = try(aws_iam_role.this[0].arn, "") }
