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

# --- RBAC: the application logs in as its own user with IAM authentication
# (a token its task role signs, modules/ecs-service), so no password exists
# anywhere; the mandatory "default" user is switched off. ElastiCache wants an
# IAM user's name to equal its id.

resource "aws_elasticache_user" "app_iam" {
  user_id       = "${var.name}-app-iam"
  user_name     = "${var.name}-app-iam"
  engine        = var.engine
  access_string = var.access_string

  authentication_mode {
    type = "iam"
  }

  tags = var.tags
}

# The password user that app_iam replaced, kept for one release switched off,
# without a password and outside the user group. Deleting it in the same
# apply would delete it before the user group drops it (Terraform destroys a
# removed resource before updating what depended on it), and ElastiCache
# would refuse that group update. Remove this resource in the next release.
resource "aws_elasticache_user" "app" {
  user_id       = "${var.name}-app"
  user_name     = "countq"
  engine        = var.engine
  access_string = "off -@all"

  authentication_mode {
    type = "no-password-required"
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
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.app_iam.user_id]

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
