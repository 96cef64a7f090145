# sentier's model of terraform-aws-modules/iam//modules/iam-user
variable "create_user" { default = true }
variable "name" { default = null }
variable "force_destroy" { default = false }
variable "create_iam_access_key" { default = true }
variable "create_iam_user_login_profile" { default = true }
variable "password_reset_required" { default = true }
variable "policy_arns" { default = [] }
variable "tags" { default = {} }

resource "aws_iam_user" "this" {
  count         = var.create_user ? 1 : 0
  name          = var.name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_iam_access_key" "this" {
  count = var.create_user && var.create_iam_access_key ? 1 : 0
  user  = aws_iam_user.this[0].name
}

resource "aws_iam_user_login_profile" "this" {
  count                   = var.create_user && var.create_iam_user_login_profile ? 1 : 0
  user                    = aws_iam_user.this[0].name
  password_reset_required = var.password_reset_required
}

resource "aws_iam_user_policy_attachment" "this" {
  count      = var.create_user ? length(var.policy_arns) : 0
  user       = aws_iam_user.this[0].name
  policy_arn = var.policy_arns[count.index]
}

output "iam_user_name" { value = try(aws_iam_user.this[0].name, "") }
