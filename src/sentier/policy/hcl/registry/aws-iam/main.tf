# sentier's model of terraform-aws-modules/iam: the resources live in its submodules
# (source = "terraform-aws-modules/iam/aws//modules/iam-policy" and the like).
