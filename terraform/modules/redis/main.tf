resource "aws_security_group" "this" {
  name        = "${var.name}-redis"
  description = "Redis ${var.name}: only from the listed security groups"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-redis" })
}

# Serverless caches listen on 6379 (writes) and 6380 (reads from replicas).
resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each = var.allowed_security_group_ids

  security_group_id            = aws_security_group.this.id
  description                  = "Redis from ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6380
}

# --- RBAC: the application logs in as its own user; the mandatory "default"
# user is switched off. The password is generated write-only into Secrets
# Manager and read back once for ElastiCache (which keeps it in state, as
# any aws_elasticache_user does; the state bucket is encrypted).

ephemeral "aws_secretsmanager_random_password" "app" {
  password_length     = 32
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV_AWS_149:The AWS-managed key (aws/secretsmanager) encrypts it; a CMK adds cost without a second reader to separate.
  #checkov:skip=CKV2_AWS_57:ElastiCache RBAC passwords are rotated by bumping password_version and applying; no rotation Lambda.
  name                    = "${var.name}/redis-app"
  description             = "Redis RBAC user of the countq application ({username, password})"
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "app" {
  secret_id = aws_secretsmanager_secret.app.id
  secret_string_wo = jsonencode({
    username = var.username
    password = ephemeral.aws_secretsmanager_random_password.app.random_password
  })
  secret_string_wo_version = var.password_version
}

data "aws_secretsmanager_secret_version" "app" {
  secret_id  = aws_secretsmanager_secret_version.app.secret_id
  version_id = aws_secretsmanager_secret_version.app.version_id
}

resource "aws_elasticache_user" "app" {
  user_id       = "${var.name}-app"
  user_name     = var.username
  engine        = var.engine
  access_string = var.access_string

  authentication_mode {
    type      = "password"
    passwords = [jsondecode(data.aws_secretsmanager_secret_version.app.secret_string).password]
  }

  tags = var.tags
}

resource "aws_elasticache_user" "default" {
  user_id       = "${var.name}-default"
  user_name     = "default"
  engine        = var.engine
  access_string = "off -@all"

  authentication_mode {
    type = "no-password-required"
  }

  tags = var.tags
}

resource "aws_elasticache_user_group" "this" {
  count = var.create_cache ? 1 : 0

  user_group_id = "${var.name}-users"
  engine        = var.engine
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.app.user_id]

  tags = var.tags
}

# Serverless: cluster mode and TLS always on, scales itself within the
# usage limits below (they cap the bill). Valkey speaks the Redis protocol
# and its serverless minimum (100 MB) costs far less than Redis OSS's 1 GB.
resource "aws_elasticache_serverless_cache" "this" {
  count = var.create_cache ? 1 : 0

  name                     = var.name
  engine                   = var.engine
  major_engine_version     = var.engine == "valkey" ? "8" : "7"
  description              = "countq queue ${var.name}"
  subnet_ids               = var.subnet_ids
  security_group_ids       = [aws_security_group.this.id]
  user_group_id            = aws_elasticache_user_group.this[0].user_group_id
  snapshot_retention_limit = var.snapshot_retention_limit

  cache_usage_limits {
    data_storage {
      maximum = var.max_data_storage_gb
      unit    = "GB"
    }

    ecpu_per_second {
      maximum = var.max_ecpu_per_second
    }
  }

  tags = var.tags
}
