resource "aws_security_group" "this" {
  name        = "${var.name}-mysql"
  description = "MySQL ${var.name}: only from the listed security groups"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-mysql" })
}

resource "aws_vpc_security_group_ingress_rule" "mysql" {
  for_each = var.allowed_security_group_ids

  security_group_id            = aws_security_group.this.id
  description                  = "MySQL from ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 3306
  to_port                      = 3306
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids

  tags = var.tags
}

locals {
  # "8.4" or "8.4.5" -> mysql8.4: the parameter family follows the major version.
  major_version = regex("^[0-9]+\\.[0-9]+", var.engine_version)
}

resource "aws_db_parameter_group" "this" {
  # Named after its family, so the next major version's group (mysql8.4 ->
  # mysql9.x) gets a new name and can exist beside the one in use: the
  # provider's aws_db_parameter_group docs require create_before_destroy for
  # a family change during a major version upgrade. The new group is created,
  # the instance moves to it, then the old one is deleted; without it the
  # group in use is deleted first, RDS refuses, and every rerun repeats that.
  # (Adding the lifecycle setting changes nothing in AWS: no replacement on
  # upgrade.)
  name   = "${var.name}-mysql${replace(local.major_version, ".", "")}"
  family = "mysql${local.major_version}"

  # Clients must use TLS (the application sets MYSQL_TLS=true in AWS).
  parameter {
    name  = "require_secure_transport"
    value = "1"
  }

  parameter {
    name  = "character_set_server"
    value = "utf8mb4"
  }

  parameter {
    name  = "collation_server"
    value = "utf8mb4_0900_ai_ci"
  }

  # Without these the slowquery log export stays empty.
  parameter {
    name  = "slow_query_log"
    value = "1"
  }

  parameter {
    name  = "long_query_time"
    value = "1"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# RDS creates the export log groups itself when they are missing, with no
# retention and outside Terraform (they would outlive a destroy): declared
# here first, they get the environment's retention and go with the stack.
resource "aws_cloudwatch_log_group" "exports" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; a customer-managed KMS key adds cost and no extra protection here.
  #checkov:skip=CKV_AWS_338:Database error and slow query logs are operational, not audit records; retention is set per environment.
  for_each = toset(var.cloudwatch_logs_exports)

  name              = "/aws/rds/instance/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs an extra IAM role; the CloudWatch metrics that are alarmed on cover this service's needs.
  #checkov:skip=CKV_AWS_161:IAM database authentication would add a token refresh path to the app; credentials come from Secrets Manager instead.
  #checkov:skip=CKV_AWS_353:Performance Insights is not offered on the smallest instance classes used outside prod.
  #checkov:skip=CKV_AWS_354:Performance Insights is off (see CKV_AWS_353), so there is nothing to encrypt with a CMK.
  identifier     = var.name
  engine         = "mysql"
  engine_version = var.engine_version
  instance_class = var.instance_class
  # Explicit: RDS enrolls new instances in paid Extended Support by default.
  engine_lifecycle_support = var.engine_lifecycle_support
  # A new major engine_version here is the upgrade (with its parameter group).
  allow_major_version_upgrade = true

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name  = var.database_name
  username = "admin"
  # RDS creates and rotates the master password in Secrets Manager; it never
  # passes through Terraform.
  manage_master_user_password = true

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.multi_az

  deletion_protection       = var.deletion_protection
  backup_retention_period   = var.backup_retention_period
  skip_final_snapshot       = var.final_snapshot_identifier == null
  final_snapshot_identifier = var.final_snapshot_identifier
  copy_tags_to_snapshot     = true

  auto_minor_version_upgrade      = true
  apply_immediately               = var.apply_immediately
  enabled_cloudwatch_logs_exports = var.cloudwatch_logs_exports

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.exports]
}

# --- The application's own database user. The importer Lambda creates it
# with this password (it holds the master secret); the services only ever
# see this secret. The password is generated at apply time and written
# write-only, so it is in neither the plan nor the state.
#
# Rotation: a new app_password_version writes a new version labelled
# AWSPENDING; the services read AWSCURRENT, so they cannot see it before the
# importer's provision action has set it on the MySQL user and moved
# AWSCURRENT to it (src/countq/importer/rotation.py). The first version also
# gets AWSCURRENT from Secrets Manager itself; no service runs before that
# first provision (scripts/deploy.sh).

ephemeral "aws_secretsmanager_random_password" "app" {
  password_length     = 32
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV_AWS_149:The AWS-managed key (aws/secretsmanager) encrypts it; a CMK adds cost without a second reader to separate.
  #checkov:skip=CKV2_AWS_57:No rotation schedule: rotate by bumping the stack input mysql_app_password_version and running scripts/deploy.sh (the importer's provision action promotes the new version).
  name                    = "${var.name}/mysql-app"
  description             = "MySQL user of the countq application ({username, password})"
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "app" {
  secret_id = aws_secretsmanager_secret.app.id
  secret_string_wo = jsonencode({
    username = var.app_username
    password = ephemeral.aws_secretsmanager_random_password.app.random_password
  })
  secret_string_wo_version = var.app_password_version
  version_stages           = ["AWSPENDING"]

  lifecycle {
    # The importer moves AWSCURRENT here and drops AWSPENDING: not drift.
    ignore_changes = [version_stages]
  }
}
