data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

# --- Topic. CloudWatch publishes alarms to an encrypted topic only when the
# key's policy lets cloudwatch.amazonaws.com use it; the AWS-managed
# alias/aws/sns key cannot grant that, so the topic has its own key.

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:This is a key policy: "*" is this key only, and the account statement is KMS's default, without which the key cannot be managed.
  #checkov:skip=CKV_AWS_111:Key policy (see CKV_AWS_109): the resource is this key only.
  #checkov:skip=CKV_AWS_356:Key policy (see CKV_AWS_109): in a key policy "*" means this key.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    # Only for this account's alarms: without these, CloudWatch acting for
    # another account's alarm could use the key (the confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:aws:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:*"]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description             = "Encrypts the ${var.name} alarm topic (CloudWatch may use it)"
  enable_key_rotation     = true
  deletion_window_in_days = var.key_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json

  tags = var.tags
}

resource "aws_kms_alias" "alarms" {
  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  actions = [aws_sns_topic.alarms.arn]
}

# --- ALB

# 5xx from the producers, and from the ALB itself: no healthy target (503),
# targets refusing or timing out (502/504), which the targets' count never sees.
resource "aws_cloudwatch_metric_alarm" "http_5xx" {
  for_each = {
    target = { metric = "HTTPCode_Target_5XX_Count", description = "The producer tasks answer 5xx." }
    elb    = { metric = "HTTPCode_ELB_5XX_Count", description = "The load balancer itself answers 5xx: no healthy producer, or producers refusing or timing out." }
  }

  alarm_name          = "${var.name}-${each.key}-5xx"
  alarm_description   = each.value.description
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value.metric
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.alb_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "alb_unhealthy" {
  alarm_name          = "${var.name}-alb-unhealthy-targets"
  alarm_description   = "A producer task fails the /health check."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

# --- ECS: running below desired for several minutes (crash loop, no capacity)

resource "aws_cloudwatch_metric_alarm" "ecs_running" {
  for_each = toset(var.service_names)

  alarm_name          = "${var.name}-${each.key}-running-below-desired"
  alarm_description   = "ECS service ${each.key} runs fewer tasks than desired."
  evaluation_periods  = 5
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "Tasks missing"
    return_data = true
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = each.key }
      period      = 60
      stat        = "Average"
    }
  }

  metric_query {
    id = "running"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = each.key }
      period      = 60
      stat        = "Average"
    }
  }

  tags = var.tags
}

# --- RDS

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  alarm_name          = "${var.name}-rds-cpu"
  alarm_description   = "MySQL CPU above ${var.rds_cpu_percent}%."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.rds_cpu_percent
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_storage" {
  alarm_name          = "${var.name}-rds-free-storage"
  alarm_description   = "MySQL free storage below ${var.rds_free_storage_gib} GiB."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.rds_free_storage_gib * 1024 * 1024 * 1024
  comparison_operator = "LessThanThreshold"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_connections" {
  alarm_name          = "${var.name}-rds-connections"
  alarm_description   = "MySQL connections above ${var.rds_max_connections}."
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.rds_max_connections
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

# --- Redis (ElastiCache Serverless: limits are set on the cache, alarm at 80%)

resource "aws_cloudwatch_metric_alarm" "redis_ecpu" {
  alarm_name          = "${var.name}-redis-ecpu"
  alarm_description   = "Redis ECPU use near its usage limit."
  namespace           = "AWS/ElastiCache"
  metric_name         = "ElastiCacheProcessingUnits"
  dimensions          = { clusterId = var.redis_cache_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.redis_max_ecpu_per_second * 60 * 0.8
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "redis_memory" {
  alarm_name          = "${var.name}-redis-memory"
  alarm_description   = "Redis data near its storage limit: the backlog is growing."
  namespace           = "AWS/ElastiCache"
  metric_name         = "BytesUsedForCache"
  dimensions          = { clusterId = var.redis_cache_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.redis_max_data_storage_gb * 1000 * 1000 * 1000 * 0.8
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

# --- Consumer: the oldest message waits too long (published by the consumer)

resource "aws_cloudwatch_metric_alarm" "backlog_age" {
  alarm_name          = "${var.name}-backlog-age"
  alarm_description   = "The oldest queued message is older than ${var.backlog_age_seconds} s: consumers are stuck or too few."
  namespace           = var.metrics_namespace
  metric_name         = "OldestAgeSeconds"
  dimensions          = var.metrics_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.backlog_age_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

# --- The end-to-end objective: POST to stored, per message (countq_end_to_end_seconds).
# The consumer publishes every stored message's time as values with counts
# (EndToEndSeconds), so the alarm reads a true p99, not an average of p99s.

resource "aws_cloudwatch_metric_alarm" "end_to_end_p99" {
  alarm_name          = "${var.name}-end-to-end-p99"
  alarm_description   = "p99 of the time from POST to stored is above ${var.end_to_end_p99_seconds} s for ${var.end_to_end_alarm_minutes} minutes. Runbook: docs/operations/runbook.md."
  namespace           = var.metrics_namespace
  metric_name         = "EndToEndSeconds"
  dimensions          = var.metrics_dimensions
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = var.end_to_end_alarm_minutes
  datapoints_to_alarm = var.end_to_end_alarm_minutes
  threshold           = var.end_to_end_p99_seconds
  comparison_operator = "GreaterThanThreshold"
  # Nothing stored in a minute is no datapoint: a stuck consumer is the
  # backlog-age alarm's to raise, not this one's.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions

  tags = var.tags
}

# --- Dashboard: the figures an operator looks at first, three per row.

locals {
  app_dimensions = flatten([for k, v in var.metrics_dimensions : [k, v]])

  # One metric line: [namespace, name, dimension name, value, ..., options].
  # The thresholds of the alarms above are drawn as horizontal lines.
  widgets = [
    {
      title   = "API requests (per minute)"
      metrics = [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix, { stat = "Sum", label = "Requests" }]]
    },
    {
      title = "API 5xx (per minute)"
      metrics = [
        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { stat = "Sum", label = "From the load balancer" }],
        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { stat = "Sum", label = "From the producers" }],
      ]
      alarm = aws_cloudwatch_metric_alarm.http_5xx["elb"].threshold
    },
    {
      title   = "API latency p99 (seconds)"
      metrics = [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p99", label = "p99" }]]
    },
    {
      title   = "Queue backlog (messages)"
      metrics = [concat([var.metrics_namespace, "Backlog"], local.app_dimensions, [{ stat = "Maximum", label = "Queued + pending" }])]
    },
    {
      title   = "Oldest queued message (seconds)"
      metrics = [concat([var.metrics_namespace, "OldestAgeSeconds"], local.app_dimensions, [{ stat = "Maximum", label = "Age" }])]
      alarm   = aws_cloudwatch_metric_alarm.backlog_age.threshold
    },
    {
      # Published by the consumer as values with counts, so CloudWatch has the percentiles.
      title = "POST to stored (seconds)"
      metrics = [
        concat([var.metrics_namespace, "EndToEndSeconds"], local.app_dimensions, [{ stat = "p50", label = "p50" }]),
        concat([var.metrics_namespace, "EndToEndSeconds"], local.app_dimensions, [{ stat = "p99", label = "p99" }]),
      ]
      alarm = aws_cloudwatch_metric_alarm.end_to_end_p99.threshold
    },
    {
      title = "Running tasks"
      metrics = [
        for service in var.service_names :
        ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", service, { stat = "Average", label = service }]
      ]
    },
    {
      title   = "RDS CPU (%)"
      metrics = [["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.rds_instance_identifier, { stat = "Average", label = "CPU" }]]
      alarm   = aws_cloudwatch_metric_alarm.rds_cpu.threshold
    },
    {
      title   = "RDS connections"
      metrics = [["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", var.rds_instance_identifier, { stat = "Maximum", label = "Connections" }]]
      alarm   = aws_cloudwatch_metric_alarm.rds_connections.threshold
    },
    {
      title   = "Redis ECPU (per minute)"
      metrics = [["AWS/ElastiCache", "ElastiCacheProcessingUnits", "clusterId", var.redis_cache_name, { stat = "Sum", label = "ECPU" }]]
      alarm   = aws_cloudwatch_metric_alarm.redis_ecpu.threshold
    },
    {
      title   = "Redis storage (bytes)"
      metrics = [["AWS/ElastiCache", "BytesUsedForCache", "clusterId", var.redis_cache_name, { stat = "Maximum", label = "Bytes used" }]]
      alarm   = aws_cloudwatch_metric_alarm.redis_memory.threshold
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.widgets : {
        type   = "metric"
        x      = (i % 3) * 8
        y      = floor(i / 3) * 6
        width  = 8
        height = 6
        properties = merge(
          {
            title   = w.title
            region  = data.aws_region.current.name
            view    = "timeSeries"
            stacked = false
            period  = 60
            metrics = w.metrics
          },
          lookup(w, "alarm", null) == null ? {} : {
            annotations = { horizontal = [{ label = "Alarm threshold", value = w.alarm }] }
          },
        )
      }
    ]
  })
}
