# --- Traces (var.tracing): an AWS Distro for OpenTelemetry collector beside the
# application, receiving OTLP/HTTP on localhost:4318 and exporting to X-Ray.
# The application only gets the standard OTEL_* variables (countq.tracing).
# Not essential: a collector that fails costs traces, never the service.

locals {
  tracing_on           = var.tracing != null
  collector_name       = "otel-collector"
  collector_log_group  = "${local.log_group_name}/${local.collector_name}"
  collector_containers = local.tracing_on ? [local.collector] : []

  otel_environment = local.tracing_on ? {
    OTEL_EXPORTER_OTLP_ENDPOINT = "http://localhost:4318"
    OTEL_EXPORTER_OTLP_PROTOCOL = "http/protobuf"
    OTEL_SERVICE_NAME           = "countq-${var.name}"
    OTEL_TRACES_SAMPLER         = "parentbased_traceidratio"
    OTEL_TRACES_SAMPLER_ARG     = tostring(var.tracing.sample_ratio)
  } : {}

  collector = local.tracing_on ? {
    name                   = local.collector_name
    image                  = var.tracing.collector_image
    essential              = false
    readonlyRootFilesystem = true
    # The image's own configuration for ECS: OTLP in, X-Ray out, health_check on.
    command = ["--config=/etc/ecs/ecs-default-config.yaml"]
    healthCheck = {
      command     = ["/healthcheck"] # the ADOT image's probe of its health_check extension
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.collector[0].name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = local.collector_name
      }
    }
  } : null
}

resource "aws_cloudwatch_log_group" "collector" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; a customer-managed KMS key adds cost and no extra protection here.
  #checkov:skip=CKV_AWS_338:The collector's own logs are operational; retention is set per environment.
  count = local.tracing_on ? 1 : 0

  name              = local.collector_log_group
  retention_in_days = var.log_retention_days

  tags = var.tags
}

# The execution role writes the collector's logs to their own group.
data "aws_iam_policy_document" "collector_logs" {
  count = local.tracing_on ? 1 : 0

  statement {
    sid       = "CollectorLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.collector[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "collector_logs" {
  count = local.tracing_on ? 1 : 0

  name   = "collector-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.collector_logs[0].json
}

# The collector sends the traces with the task role.
data "aws_iam_policy_document" "xray" {
  count = local.tracing_on ? 1 : 0

  statement {
    sid       = "SendTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray's write calls have no resource-level permissions
  }
}

resource "aws_iam_role_policy" "xray" {
  count = local.tracing_on ? 1 : 0

  name   = "send-traces"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.xray[0].json
}
