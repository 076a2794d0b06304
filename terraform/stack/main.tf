# One environment of countq. Terragrunt (terraform/infrastructure) generates
# the providers (default region and aws.us_east_1) and the remote state.

data "aws_region" "current" {}

locals {
  name  = "${var.name}-${var.environment}"
  image = "${module.ecr.repository_url}:${var.image_tag}"
  # No release yet (a first deploy before its migrations): the services are
  # created only once there is an image whose schema and app user exist.
  released = var.image_tag != ""
  tags     = { Application = var.name, Environment = var.environment }

  # The application's own metrics (published by the consumer), used for
  # consumer autoscaling and the backlog age alarm.
  metrics_namespace  = "countq"
  metrics_dimensions = { Environment = var.environment }

  # Same settings for both services; only secret ARNs, never secret values.
  app_environment = {
    AWS_REGION     = data.aws_region.current.name
    HTTP_PORT      = "5080"
    LOG_LEVEL      = var.log_level
    LOG_FORMAT     = "json" # JSON lines, for CloudWatch Logs Insights
    MYSQL_HOST     = module.rds.address
    MYSQL_PORT     = tostring(module.rds.port)
    MYSQL_DATABASE = module.rds.database_name
    MYSQL_TLS      = "true"
    MYSQL_TLS_CA   = "/etc/countq/mysql-ca.pem" # the RDS CA bundle the image carries (Dockerfile)
    DB_SECRET_ARN  = module.rds.app_secret_arn
    REDIS_HOST     = module.redis.endpoint_address
    REDIS_PORT     = tostring(module.redis.endpoint_port)
    REDIS_CLUSTER  = "true"
    REDIS_TLS      = "true"
    REDIS_QUEUE    = "countq"
    # Scale-out past one shard and one row lock (docs: Performance -> Capacity model).
    QUEUE_PARTITIONS = tostring(var.queue_partitions)
    SUMMARY_SHARDS   = tostring(var.summary_shards)
    # No Redis password: the app signs an IAM token as this user (countq.queue.iam).
    REDIS_IAM_USER       = module.redis.user_id
    REDIS_IAM_CACHE_NAME = module.redis.cache_name
  }
  app_secret_arns = [module.rds.app_secret_arn]
  redis_connect   = [module.redis.cache_arn, module.redis.user_arn]

  # What the tasks and the importer reach, and nothing else (egress_rules).
  # No task calls another (Cloud Map names are for operators), and the
  # consumer's metrics port only answers. AWS APIs: through the interface
  # endpoints (in the VPC) and the S3 gateway (ECR's image layers, the dumps)
  # when there are endpoints, through the NAT gateway otherwise.
  mysql_egress = { "MySQL in the VPC" = { from_port = 3306, to_port = 3306, cidr_ipv4 = var.vpc_cidr } }
  redis_egress = { "Redis in the VPC" = { from_port = 6379, to_port = 6380, cidr_ipv4 = var.vpc_cidr } }
  aws_api_egress = var.interface_endpoints ? {
    "AWS APIs through the VPC endpoints" = { from_port = 443, to_port = 443, cidr_ipv4 = var.vpc_cidr }
    "S3 through the gateway endpoint"    = { from_port = 443, to_port = 443, prefix_list_id = module.network.s3_prefix_list_id }
    } : {
    "AWS APIs through the NAT gateway" = { from_port = 443, to_port = 443, cidr_ipv4 = "0.0.0.0/0" }
  }
  task_egress = merge(local.mysql_egress, local.redis_egress, local.aws_api_egress)

  # Both services' traces, when on (the ecs-service module's var.tracing). With
  # the mirror, the tasks run the copy deploy.sh pushes to the stack's own
  # repository, under the source's tag: pulled through the ECR endpoints.
  collector_mirrored = var.tracing && var.tracing_collector_mirror
  collector_tag      = regex(":([^:/]+)$", var.tracing_collector_image)[0]
  collector_image = (
    local.collector_mirrored ? "${module.collector_ecr[0].repository_url}:${local.collector_tag}"
    : var.tracing_collector_image
  )
  tracing = var.tracing ? {
    collector_image          = local.collector_image
    collector_repository_arn = one(module.collector_ecr[*].repository_arn)
    sample_ratio             = var.tracing_sample_ratio
  } : null

  # The consumer publishes Backlog and OldestAgeSeconds with these.
  # Its /metrics listens on the port the ecs-service module maps (container_port).
  consumer_environment = merge(local.app_environment, {
    METRICS_NAMESPACE   = local.metrics_namespace
    METRICS_ENVIRONMENT = var.environment
    CONSUMER_PORT       = "5080"
  })
}

module "network" {
  source = "../modules/network"

  name     = local.name
  cidr     = var.vpc_cidr
  az_count = var.az_count
  # With interface endpoints no security group lets anything out to the
  # internet, so a NAT gateway would only cost money (and an Elastic IP).
  nat_gateway        = !var.interface_endpoints
  single_nat_gateway = var.single_nat_gateway
  # What the services call: Secrets Manager, ECR, CloudWatch Logs and
  # (the consumer's PutMetricData) monitoring; ssmmessages for ECS Exec.
  interface_endpoint_services = var.interface_endpoints ? concat(
    ["secretsmanager", "ecr.api", "ecr.dkr", "logs", "monitoring"],
    var.enable_execute_command ? ["ssmmessages"] : [],
    var.tracing ? ["xray"] : [], # the ADOT collector's PutTraceSegments
  ) : []
  tags = local.tags
}

module "ecr" {
  source = "../modules/ecr"

  name         = local.name
  force_delete = !var.protect_data
  tags         = local.tags
}

# The tracing collector's copy (tracing_collector_mirror), beside the
# application's repository and named under it, so that the deploy role's
# permissions on <name>-<env>/* cover it.
module "collector_ecr" {
  source = "../modules/ecr"
  count  = local.collector_mirrored ? 1 : 0

  name         = "${local.name}/otel-collector"
  keep_images  = 5
  force_delete = !var.protect_data
  tags         = local.tags
}

module "cluster" {
  source = "../modules/ecs-cluster"

  name   = local.name
  vpc_id = module.network.vpc_id
  tags   = local.tags
}

module "alb" {
  source = "../modules/alb"

  name                = local.name
  vpc_id              = module.network.vpc_id
  vpc_cidr_block      = module.network.vpc_cidr_block
  subnet_ids          = module.network.private_subnet_ids
  deletion_protection = var.protect_data
  access_log_days     = var.log_retention_days
  force_destroy       = !var.protect_data
  tags                = local.tags
}

module "rds" {
  source = "../modules/rds-mysql"

  name                    = local.name
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  instance_class          = var.db_instance_class
  allocated_storage       = var.db_allocated_storage
  max_allocated_storage   = var.db_max_allocated_storage
  multi_az                = var.db_multi_az
  deletion_protection     = var.protect_data
  backup_retention_period = var.db_backup_retention_days
  apply_immediately       = !var.protect_data
  final_snapshot_identifier = (
    var.db_final_snapshot_identifier != null ? var.db_final_snapshot_identifier
    : var.protect_data ? "${local.name}-final" : null
  )
  log_retention_days = var.log_retention_days
  allowed_security_group_ids = {
    producer = module.producer.security_group_id
    consumer = module.consumer.security_group_id
    importer = module.importer.security_group_id
  }
  secret_recovery_window_days = var.protect_data ? 7 : 0
  app_password_version        = var.mysql_app_password_version
  tags                        = local.tags
}

module "redis" {
  source = "../modules/redis"

  name                = local.name
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.private_subnet_ids
  max_data_storage_gb = var.redis_max_data_storage_gb
  max_ecpu_per_second = var.redis_max_ecpu_per_second
  allowed_security_group_ids = {
    producer = module.producer.security_group_id
    consumer = module.consumer.security_group_id
  }
  snapshot_retention_limit = var.protect_data ? 1 : 0
  create_cache             = var.create_redis_cache
  tags                     = local.tags
}

module "producer" {
  source = "../modules/ecs-service"

  name                       = "producer"
  cluster_name               = module.cluster.cluster_name
  cluster_arn                = module.cluster.cluster_arn
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  image                      = local.image
  create_service             = local.released
  command                    = ["countq", "producer"]
  environment                = local.app_environment
  tracing                    = local.tracing
  secret_arns                = local.app_secret_arns
  elasticache_connect_arns   = local.redis_connect
  ecr_repository_arn         = module.ecr.repository_arn
  cpu                        = var.producer.cpu
  memory                     = var.producer.memory
  desired_count              = var.producer.desired_count
  ingress_security_group_ids = { alb = module.alb.security_group_id }
  egress_rules               = local.task_egress
  enable_execute_command     = var.enable_execute_command
  service_discovery          = { namespace_id = module.cluster.namespace_id }
  log_retention_days         = var.log_retention_days
  load_balancer = {
    target_group_arn = module.alb.target_group_arn
    listener_arn     = module.alb.listener_arn
  }
  autoscaling = {
    min_capacity = var.producer.min_count
    max_capacity = var.producer.max_count
    cpu_target   = var.producer_cpu_target
    requests_per_target = {
      target_value   = var.producer_requests_per_task_target
      resource_label = "${module.alb.arn_suffix}/${module.alb.target_group_arn_suffix}"
    }
  }
  tags = local.tags
}

module "consumer" {
  source = "../modules/ecs-service"

  name                     = "consumer"
  cluster_name             = module.cluster.cluster_name
  cluster_arn              = module.cluster.cluster_arn
  vpc_id                   = module.network.vpc_id
  subnet_ids               = module.network.private_subnet_ids
  image                    = local.image
  create_service           = local.released
  command                  = ["countq", "consumer"]
  environment              = local.consumer_environment
  tracing                  = local.tracing
  secret_arns              = local.app_secret_arns
  elasticache_connect_arns = local.redis_connect
  ecr_repository_arn       = module.ecr.repository_arn
  metrics_namespace        = local.metrics_namespace
  cpu                      = var.consumer.cpu
  memory                   = var.consumer.memory
  desired_count            = var.consumer.desired_count
  service_discovery        = { namespace_id = module.cluster.namespace_id }
  log_retention_days       = var.log_retention_days
  egress_rules             = local.task_egress
  enable_execute_command   = var.enable_execute_command
  autoscaling = {
    min_capacity = var.consumer.min_count
    max_capacity = var.consumer.max_count
    backlog_per_task = {
      target_value = var.consumer_backlog_per_task_target
      namespace    = local.metrics_namespace
      metric_name  = "Backlog"
      dimensions   = local.metrics_dimensions
    }
  }
  tags = local.tags
}

module "importer" {
  source = "../modules/importer"

  name               = "${local.name}-importer"
  zip_path           = var.importer_zip_path
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  egress_rules       = merge(local.mysql_egress, local.aws_api_egress)
  mysql_host         = module.rds.address
  mysql_port         = module.rds.port
  mysql_database     = module.rds.database_name
  master_secret_arn  = module.rds.master_secret_arn
  app_secret_arn     = module.rds.app_secret_arn
  log_retention_days = var.log_retention_days
  force_destroy      = !var.protect_data
  retention_days     = var.retention_days
  alarm_topic_arn    = module.monitoring.topic_arn
  metrics_namespace  = local.metrics_namespace
  metrics_dimensions = local.metrics_dimensions
  # Reserving concurrency fails on accounts with a low quota (most new ones).
  reserved_concurrent_executions = var.importer_reserved_concurrency
  tags                           = local.tags
}

module "waf" {
  source = "../modules/waf"
  count  = var.waf_enabled ? 1 : 0
  # A CloudFront web ACL lives in us-east-1.
  providers = {
    aws = aws.us_east_1
  }

  name       = local.name
  rate_limit = var.waf_post_count_limit
  tags       = local.tags
}

module "frontend" {
  source = "../modules/frontend"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name              = local.name
  alb_dns_name      = module.alb.dns_name
  alb_vpc_origin_id = module.alb.vpc_origin_id
  web_acl_arn       = one(module.waf[*].arn)
  price_class       = var.cloudfront_price_class
  domain_name       = var.domain_name
  route53_zone_id   = var.route53_zone_id
  force_destroy     = !var.protect_data
  tags              = local.tags
}

module "monitoring" {
  source = "../modules/monitoring"

  name                      = local.name
  alarm_email               = var.alarm_email
  key_deletion_window_days  = var.protect_data ? 30 : 7
  alb_arn_suffix            = module.alb.arn_suffix
  target_group_arn_suffix   = module.alb.target_group_arn_suffix
  cluster_name              = module.cluster.cluster_name
  service_names             = [module.producer.service_name, module.consumer.service_name]
  rds_instance_identifier   = module.rds.instance_identifier
  rds_max_connections       = var.db_max_connections_alarm
  redis_cache_name          = module.redis.cache_name
  redis_max_ecpu_per_second = var.redis_max_ecpu_per_second
  redis_max_data_storage_gb = var.redis_max_data_storage_gb
  metrics_namespace         = local.metrics_namespace
  metrics_dimensions        = local.metrics_dimensions
  end_to_end_p99_seconds    = var.end_to_end_p99_alarm_seconds
  end_to_end_alarm_minutes  = var.end_to_end_alarm_minutes
  tags                      = local.tags
}
