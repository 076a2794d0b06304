data "aws_caller_identity" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; a customer-managed KMS key adds cost and no extra protection here.
  #checkov:skip=CKV_AWS_338:Importer logs are operational, not audit records; retention is set per environment.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days

  tags = var.tags
}

# --- Bucket the SQL dumps to import are uploaded to

resource "aws_s3_bucket" "imports" {
  #checkov:skip=CKV_AWS_18:Uploads come only from operators through deploy tooling; CloudTrail data events can be enabled account-wide.
  #checkov:skip=CKV_AWS_144:Dumps are transient inputs; no cross-region replica needed.
  #checkov:skip=CKV_AWS_145:SSE-S3 is enough for transient dumps and keeps the Lambda policy free of KMS grants.
  #checkov:skip=CKV2_AWS_62:The importer is invoked explicitly with bucket and key, not by events.
  bucket        = "${var.name}-imports-${data.aws_caller_identity.current.account_id}"
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "imports" {
  bucket = aws_s3_bucket.imports.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "imports" {
  bucket = aws_s3_bucket.imports.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "imports" {
  bucket = aws_s3_bucket.imports.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "imports" {
  bucket = aws_s3_bucket.imports.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "imports" {
  bucket = aws_s3_bucket.imports.id

  rule {
    id     = "expire-dumps"
    status = "Enabled"

    filter {}

    expiration {
      days = 30
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# --- Role: VPC networking and its own logs, the two database secrets, and
# reading dumps from its bucket.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "vpc" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReadDatabaseSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.master_secret_arn, var.app_secret_arn]
  }

  statement {
    sid = "PromoteAppPassword"
    # provision moves AWSCURRENT to a pending app password once MySQL accepts it.
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:UpdateSecretVersionStage"]
    resources = [var.app_secret_arn]
  }

  statement {
    sid       = "ReadDumps"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.imports.arn}/*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "secrets-and-dumps"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_security_group" "this" {
  name        = var.name
  description = "Importer Lambda ${var.name}"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = var.name })
}

# Only the flows in var.egress_rules leave the function (MySQL, Secrets
# Manager, S3). Its logs go through the Lambda service, not its network
# interfaces, and DNS to the Amazon resolver is not filtered by security
# groups: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html
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

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_50:X-Ray tracing adds cost and IAM for a function run a few times per deploy.
  #checkov:skip=CKV_AWS_116:Synchronous callers (deploy.sh, operators) see failures in the result; a failed scheduled maintain raises, is retried by Lambda and raises the errors alarm. A DLQ would only hold copies of {"action": "maintain"}.
  #checkov:skip=CKV_AWS_173:The environment holds no secret values (host, port, database, secret ARNs); the default key encrypts it.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile; the zip is built and uploaded by the same deploy pipeline.
  function_name                  = var.name
  description                    = "countq migrations, application user and SQL imports"
  role                           = aws_iam_role.this.arn
  runtime                        = "python3.11"
  architectures                  = ["x86_64"]
  handler                        = var.handler
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  timeout                        = var.timeout
  memory_size                    = var.memory_size
  reserved_concurrent_executions = var.reserved_concurrent_executions

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.this.id]
  }

  environment {
    variables = merge(
      {
        MYSQL_HOST        = var.mysql_host
        MYSQL_PORT        = tostring(var.mysql_port)
        MYSQL_DATABASE    = var.mysql_database
        MYSQL_TLS         = "true"
        MYSQL_TLS_CA      = var.mysql_tls_ca
        DB_SECRET_ARN     = var.master_secret_arn
        APP_DB_SECRET_ARN = var.app_secret_arn
        LOG_FORMAT        = "json" # the services' JSON lines (countq.logs), for Logs Insights
        # The partition horizon metric maintain prints (embedded metric format).
        METRICS_NAMESPACE   = var.metrics_namespace
        METRICS_ENVIRONMENT = var.metrics_dimensions.Environment
      },
      var.retention_days == null ? {} : { RETENTION_DAYS = tostring(var.retention_days) },
    )
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy_attachment.vpc, aws_iam_role_policy.this]
}

# --- The maintain action on a schedule: day partitions created ahead and,
# with RETENTION_DAYS, old days dropped (countq.db.retention). It needs the
# master user's ALTER and DROP, which only this function has.

resource "aws_cloudwatch_event_rule" "maintain" {
  count = var.maintenance_schedule == null ? 0 : 1

  name                = "${var.name}-maintain"
  description         = "Invoke ${var.name} with {\"action\": \"maintain\"}"
  schedule_expression = var.maintenance_schedule

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "maintain" {
  count = var.maintenance_schedule == null ? 0 : 1

  rule  = aws_cloudwatch_event_rule.maintain[0].name
  arn   = aws_lambda_function.this.arn
  input = jsonencode({ action = "maintain" })
}

resource "aws_lambda_permission" "maintain" {
  count = var.maintenance_schedule == null ? 0 : 1

  statement_id  = "MaintainOnSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.maintain[0].arn
}

# --- Alarms. The handler raises when maintain fails, so Lambda counts the
# invocation in Errors and retries it (asynchronous, twice). provision and
# import answer their synchronous callers with ok: false instead (deploy.sh,
# an operator), which Errors does not count.

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "The importer failed (a scheduled maintain, or a crash or timeout of any action): see its log group /aws/lambda/${var.name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  tags = var.tags
}

# Each maintain run prints the horizon as an embedded-metric-format line,
# which CloudWatch Logs turns into a metric: no PutMetricData permission and
# no route to the monitoring API for the function. No datapoint counts as
# breaching: a schedule that stopped, or runs that fail before they measure.
resource "aws_cloudwatch_metric_alarm" "partition_horizon" {
  count = var.maintenance_schedule == null ? 0 : 1

  alarm_name          = "${var.name}-partition-horizon"
  alarm_description   = "The messages table has day partitions for fewer than ${var.partition_horizon_alarm_days} days ahead, or maintain has not reported for two hours. Past the last day, rows land in the overflow partition and retention cannot drop them: run {\"action\": \"maintain\"} and read /aws/lambda/${var.name}."
  namespace           = var.metrics_namespace
  metric_name         = "PartitionHorizonDays"
  dimensions          = var.metrics_dimensions
  statistic           = "Minimum"
  period              = 3600
  evaluation_periods  = 2
  threshold           = var.partition_horizon_alarm_days
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  tags = var.tags
}
