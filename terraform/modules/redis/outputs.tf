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

output "secret_arn" {
  description = "ARN of the application user's secret {username, password} (REDIS_SECRET_ARN)."
  value       = aws_secretsmanager_secret.app.arn
}

output "security_group_id" {
  description = "Security group of the cache."
  value       = aws_security_group.this.id
}
