output "topic_arn" {
  description = "SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of all alarms."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.http_5xx : a.alarm_name],
    [aws_cloudwatch_metric_alarm.alb_unhealthy.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.ecs_running : a.alarm_name],
    [
      aws_cloudwatch_metric_alarm.rds_cpu.alarm_name,
      aws_cloudwatch_metric_alarm.rds_storage.alarm_name,
      aws_cloudwatch_metric_alarm.rds_connections.alarm_name,
      aws_cloudwatch_metric_alarm.redis_ecpu.alarm_name,
      aws_cloudwatch_metric_alarm.redis_memory.alarm_name,
      aws_cloudwatch_metric_alarm.backlog_age.alarm_name,
      aws_cloudwatch_metric_alarm.end_to_end_p99.alarm_name,
    ],
  )
}

output "kms_key_arn" {
  description = "KMS key encrypting the alarm topic (its policy lets CloudWatch publish)."
  value       = aws_kms_key.alarms.arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
