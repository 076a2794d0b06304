data "aws_region" "current" {}

locals {
  container_name = var.name
  log_group_name = "/ecs/${var.cluster_name}/${var.name}"
  # Application Auto Scaling addresses the service by this id.
  scaling_resource_id = "service/${var.cluster_name}/${var.name}"
  # Task volume => path mounted read-write under the read-only root filesystem.
  writable_paths = merge(
    { tmp = "/tmp" },
    var.enable_execute_command ? { ssm-state = "/var/lib/amazon/ssm", ssm-logs = "/var/log/amazon/ssm" } : {},
  )
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; a customer-managed KMS key adds cost and no extra protection here.
  #checkov:skip=CKV_AWS_338:Application logs are operational, not audit records; retention is set per environment.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days

  tags = var.tags
}

# --- IAM: the execution role pulls the image and writes logs; the task role
# only reads the exact secrets the application is given, logs in to the
# listed ElastiCache cache and user, and publishes its own metrics when asked to.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.cluster_name}-${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the token call has no resource-level permissions
  }

  statement {
    sid     = "EcrPull"
    actions = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    # The application's image, and the tracing collector's copy when there is one.
    resources = compact([var.ecr_repository_arn, try(var.tracing.collector_repository_arn, null)])
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${var.cluster_name}-${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ReadOwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = var.secret_arns
  }

  # IAM authentication to ElastiCache: the task signs its own login token.
  dynamic "statement" {
    for_each = length(var.elasticache_connect_arns) == 0 ? [] : [var.elasticache_connect_arns]

    content {
      sid       = "ConnectToRedis"
      actions   = ["elasticache:Connect"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = var.metrics_namespace == null ? [] : [var.metrics_namespace]

    content {
      sid       = "PublishOwnMetrics"
      actions   = ["cloudwatch:PutMetricData"]
      resources = ["*"] # PutMetricData has no resource ARN; the namespace condition scopes it

      condition {
        test     = "StringEquals"
        variable = "cloudwatch:namespace"
        values   = [statement.value]
      }
    }
  }
}

# ECS Exec: the SSM agent ECS injects opens its channels with the task role
# and, with the cluster's DEFAULT exec logging, writes each session to the
# service's own log group (the audit trail of who ran what).
data "aws_iam_policy_document" "exec" {
  count = var.enable_execute_command ? 1 : 0

  statement {
    sid = "EcsExecChannels"
    actions = [
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ]
    resources = ["*"] # Session Manager's channels have no resource ARN
  }

  statement {
    sid       = "EcsExecFindLogGroup"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"] # a List call: no resource-level permissions
  }

  statement {
    sid       = "EcsExecSessionLogs"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "exec" {
  count = var.enable_execute_command ? 1 : 0

  name   = "ecs-exec"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.exec[0].json
}

resource "aws_iam_role_policy" "task" {
  name   = "read-secrets"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# --- Network

resource "aws_security_group" "this" {
  name        = "${var.cluster_name}-${var.name}"
  description = "ECS service ${var.name}"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.cluster_name}-${var.name}" })
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = var.ingress_security_group_ids

  security_group_id            = aws_security_group.this.id
  description                  = "HTTP from ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

# Only the flows in var.egress_rules leave the tasks. DNS to the Amazon
# resolver, the task metadata endpoint (task role credentials) and the Time
# Sync Service are not filtered by security groups:
# https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html
resource "aws_vpc_security_group_egress_rule" "this" {
  for_each = var.egress_rules

  security_group_id = aws_security_group.this.id
  description       = each.key
  cidr_ipv4         = each.value.cidr_ipv4
  prefix_list_id    = each.value.prefix_list_id
  ip_protocol       = "tcp"
  from_port         = each.value.from_port
  to_port           = each.value.to_port
}

# --- Task definition and service: only once there is an image to run (see
# var.create_service); everything above exists from the first apply on.

resource "aws_ecs_task_definition" "this" {
  count = var.create_service ? 1 : 0

  family                   = "${var.cluster_name}-${var.name}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # The root filesystem is read-only; the application writes only to /tmp,
  # and with ECS Exec on, the SSM agent to its state and log folders.
  dynamic "volume" {
    for_each = keys(local.writable_paths)

    content {
      name = volume.value
    }
  }

  container_definitions = jsonencode(concat([merge({
    name                   = local.container_name
    image                  = var.image
    command                = var.command
    essential              = true
    user                   = "10001"
    readonlyRootFilesystem = true
    stopTimeout            = var.stop_timeout
    portMappings = [{
      containerPort = var.container_port
      hostPort      = var.container_port
      protocol      = "tcp"
    }]
    environment = [for k, v in merge(var.environment, local.otel_environment) : { name = k, value = v }]
    mountPoints = [for volume, path in local.writable_paths : {
      sourceVolume  = volume
      containerPath = path
      readOnly      = false
    }]
    healthCheck = {
      command     = var.health_check_command
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 20
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = var.name
      }
    }
    },
    # With ECS Exec, an init process reaps the SSM agent's exited children.
    { for k, v in { linuxParameters = { initProcessEnabled = true } } : k => v if var.enable_execute_command },
  )], local.collector_containers))

  tags = var.tags
}

resource "aws_service_discovery_service" "this" {
  count = var.service_discovery == null ? 0 : 1

  name = var.name

  dns_config {
    namespace_id   = var.service_discovery.namespace_id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  count = var.create_service ? 1 : 0

  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this[0].arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.load_balancer == null ? null : 30
  enable_execute_command             = var.enable_execute_command
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = var.load_balancer == null ? [] : [var.load_balancer.target_group_arn]

    content {
      target_group_arn = load_balancer.value
      container_name   = local.container_name
      container_port   = var.container_port
    }
  }

  dynamic "service_registries" {
    for_each = aws_service_discovery_service.this

    content {
      registry_arn = service_registries.value.arn
    }
  }

  # Autoscaling owns the running count once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  tags = var.tags

  # A service attached to a target group that no listener uses yet fails
  # ("target group ... does not have an associated load balancer"), so it
  # waits for the listener named in var.load_balancer.
  depends_on = [aws_iam_role_policy.execution, aws_iam_role_policy.task, aws_iam_role_policy.exec, var.load_balancer]
}

# --- Autoscaling: CPU and requests per task for request-driven services, the
# queue backlog per task for workers

resource "aws_appautoscaling_target" "this" {
  count = var.create_service ? 1 : 0

  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity
  resource_id        = local.scaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"
  service_namespace  = "ecs"

  depends_on = [aws_ecs_service.this]
}

# Each configured tracker is a policy of its own: ECS scales out when any of
# them asks and scales in only when all of them allow.
resource "aws_appautoscaling_policy" "cpu" {
  count = var.create_service && var.autoscaling.cpu_target != null ? 1 : 0

  name               = "${var.cluster_name}-${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  resource_id        = local.scaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"
  service_namespace  = "ecs"

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.cpu_target
    scale_in_cooldown  = 120
    scale_out_cooldown = 30

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }

  depends_on = [aws_appautoscaling_target.this]
}

# Requests per task and minute at the ALB: rises with the load before CPU does.
resource "aws_appautoscaling_policy" "requests" {
  count = var.create_service && var.autoscaling.requests_per_target != null ? 1 : 0

  name               = "${var.cluster_name}-${var.name}-requests"
  policy_type        = "TargetTrackingScaling"
  resource_id        = local.scaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"
  service_namespace  = "ecs"

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.requests_per_target.target_value
    scale_in_cooldown  = 120
    scale_out_cooldown = 30

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = var.autoscaling.requests_per_target.resource_label
    }
  }

  depends_on = [aws_appautoscaling_target.this]
}

# Backlog per running task. Every task reports the same total backlog, which
# does not fall as tasks are added, so tracking the total races to the
# maximum. Divided by the running tasks, it falls as tasks are added and
# rises as they go: target tracking converges on total / target tasks.
resource "aws_appautoscaling_policy" "backlog" {
  count = var.create_service && var.autoscaling.backlog_per_task != null ? 1 : 0

  name               = "${var.cluster_name}-${var.name}-backlog"
  policy_type        = "TargetTrackingScaling"
  resource_id        = local.scaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"
  service_namespace  = "ecs"

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.backlog_per_task.target_value
    scale_in_cooldown  = 120
    scale_out_cooldown = 30

    customized_metric_specification {
      metrics {
        id          = "backlog"
        label       = "Backlog (the same total from every task)"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = var.autoscaling.backlog_per_task.namespace
            metric_name = var.autoscaling.backlog_per_task.metric_name

            dynamic "dimensions" {
              for_each = var.autoscaling.backlog_per_task.dimensions

              content {
                name  = dimensions.key
                value = dimensions.value
              }
            }
          }
        }
      }

      # Container Insights (on for the cluster, modules/ecs-cluster).
      metrics {
        id          = "tasks"
        label       = "Running tasks"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = var.cluster_name
            }

            dimensions {
              name  = "ServiceName"
              value = var.name
            }
          }
        }
      }

      metrics {
        id          = "per_task"
        label       = "Backlog per running task"
        expression  = "backlog / tasks"
        return_data = true
      }
    }
  }

  depends_on = [aws_appautoscaling_target.this]
}

# The single policy before the trackers above: forgotten, not destroyed, since
# the policy of the same name above takes it over (PutScalingPolicy replaces a
# policy by name; destroying the old one could delete the new one).
removed {
  from = aws_appautoscaling_policy.this

  lifecycle {
    destroy = false
  }
}

# Addresses before create_service existed: existing services are kept, not replaced.
moved {
  from = aws_ecs_task_definition.this
  to   = aws_ecs_task_definition.this[0]
}

moved {
  from = aws_ecs_service.this
  to   = aws_ecs_service.this[0]
}

moved {
  from = aws_appautoscaling_target.this
  to   = aws_appautoscaling_target.this[0]
}
