output "function_name" {
  description = "Name of the importer function (invoked by deploy.sh)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the importer function."
  value       = aws_lambda_function.this.arn
}

output "security_group_id" {
  description = "Security group of the function (allowed on MySQL)."
  value       = aws_security_group.this.id
}

output "imports_bucket" {
  description = "Bucket for SQL dumps to import."
  value       = aws_s3_bucket.imports.id
}

output "alarm_names" {
  description = "Names of the importer's alarms."
  value       = concat([aws_cloudwatch_metric_alarm.errors.alarm_name], aws_cloudwatch_metric_alarm.partition_horizon[*].alarm_name)
}
