output "service_name" {
  description = "Name of the ECS service (known before the service exists, for alarms)."
  value       = var.name
}

output "security_group_id" {
  description = "Security group of the tasks (allow it on the data stores)."
  value       = aws_security_group.this.id
}

output "task_definition_arn" {
  description = "ARN of the task definition revision (null when create_service is false)."
  value       = one(aws_ecs_task_definition.this[*].arn)
}

output "task_role_arn" {
  description = "ARN of the task role."
  value       = aws_iam_role.task.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = aws_cloudwatch_log_group.this.name
}
