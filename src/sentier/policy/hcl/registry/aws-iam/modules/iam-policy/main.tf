# sentier's model of terraform-aws-modules/iam//modules/iam-policy
variable "create_policy" { default = true }
variable "name" { default = null }
variable "path" { default = "/" }
variable "description" { default = "IAM Policy" }
variable "policy" { default = "" }
variable "tags" { default = {} }

resource "aws_iam_policy" "policy" {
  count       = var.create_policy ? 1 : 0
  name        = var.name
  path        = var.path
  description = var.description
  policy      = var.policy
  tags        = var.tags
}

output "arn" { value = try(aws_iam_policy.policy[0].arn, "") }
