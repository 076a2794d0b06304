output "address" {
  description = "Host name of the database (MYSQL_HOST)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the database (MYSQL_PORT)."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of the application database (MYSQL_DATABASE)."
  value       = aws_db_instance.this.db_name
}

output "instance_identifier" {
  description = "DB instance identifier (CloudWatch dimension DBInstanceIdentifier)."
  value       = aws_db_instance.this.identifier
}

output "master_secret_arn" {
  description = "ARN of the RDS-managed master user secret (importer only)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "app_secret_arn" {
  description = "ARN of the application user's secret {username, password} (DB_SECRET_ARN of the services)."
  value       = aws_secretsmanager_secret.app.arn
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.this.id
}
