output "endpoint_address" {
  description = "Host name of the cache (REDIS_HOST); empty when create_cache is false."
  value       = try(aws_elasticache_serverless_cache.this[0].endpoint[0].address, "")
}

output "endpoint_port" {
  description = "Port of the cache (REDIS_PORT)."
  value       = try(aws_elasticache_serverless_cache.this[0].endpoint[0].port, 6379)
}

output "cache_name" {
  description = "Name of the cache (CloudWatch dimension clusterId)."
  value       = var.name
}

output "user_id" {
  description = "ElastiCache user (id and name) of the application, which logs in with IAM (REDIS_IAM_USER)."
  value       = aws_elasticache_user.app_iam.user_id
}

output "user_arn" {
  description = "ARN of the application's user (elasticache:Connect)."
  value       = aws_elasticache_user.app_iam.arn
}

output "cache_arn" {
  description = "ARN of the serverless cache (elasticache:Connect); its would-be ARN when create_cache is false."
  # Derived from the user's ARN (same account and region) when there is no cache.
  value = try(
    aws_elasticache_serverless_cache.this[0].arn,
    replace(aws_elasticache_user.app_iam.arn, ":user:${aws_elasticache_user.app_iam.user_id}", ":serverlesscache:${var.name}"),
  )
}

output "security_group_id" {
  description = "Security group of the cache."
  value       = aws_security_group.this.id
}
