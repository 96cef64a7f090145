# sentier's model of terraform-aws-modules/rds
variable "create_db_instance" { default = true }
variable "identifier" { default = null }
variable "engine" { default = null }
variable "engine_version" { default = null }
variable "instance_class" { default = null }
variable "allocated_storage" { default = null }
variable "storage_encrypted" { default = true }
variable "kms_key_id" { default = null }
variable "publicly_accessible" { default = false }
variable "username" { default = null }
variable "password" { default = null }
variable "port" { default = null }
variable "multi_az" { default = false }
variable "backup_retention_period" { default = null }
variable "deletion_protection" { default = false }
variable "iam_database_authentication_enabled" { default = false }
variable "monitoring_interval" { default = 0 }
variable "performance_insights_enabled" { default = false }
variable "auto_minor_version_upgrade" { default = true }
variable "copy_tags_to_snapshot" { default = false }
variable "enabled_cloudwatch_logs_exports" { default = [] }
variable "vpc_security_group_ids" { default = [] }
variable "tags" { default = {} }

resource "aws_db_instance" "this" {
  count                               = var.create_db_instance ? 1 : 0
  identifier                          = var.identifier
  engine                              = var.engine
  engine_version                      = var.engine_version
  instance_class                      = var.instance_class
  allocated_storage                   = var.allocated_storage
  storage_encrypted                   = var.storage_encrypted
  kms_key_id                          = var.kms_key_id
  publicly_accessible                 = var.publicly_accessible
  username                            = var.username
  password                            = var.password
  port                                = var.port
  multi_az                            = var.multi_az
  backup_retention_period             = var.backup_retention_period
  deletion_protection                 = var.deletion_protection
  iam_database_authentication_enabled = var.iam_database_authentication_enabled
  monitoring_interval                 = var.monitoring_interval
  performance_insights_enabled        = var.performance_insights_enabled
  auto_minor_version_upgrade          = var.auto_minor_version_upgrade
  copy_tags_to_snapshot               = var.copy_tags_to_snapshot
  enabled_cloudwatch_logs_exports     = var.enabled_cloudwatch_logs_exports
  vpc_security_group_ids              = var.vpc_security_group_ids
  tags                                = var.tags
}

output "db_instance_address" { value = try(aws_db_instance.this[0].address, null) }
