variable "name" {
  description = "Prefix of the topic and alarm names."
  type        = string
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (null: none). AWS mails it a confirmation link; alarms reach it once that link is followed."
  type        = string
  default     = null
}

variable "key_deletion_window_days" {
  description = "Days a deleted alarm topic key can still be restored (7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.key_deletion_window_days >= 7 && var.key_deletion_window_days <= 30
    error_message = "key_deletion_window_days must be between 7 and 30."
  }
}

variable "alb_arn_suffix" {
  description = "ALB ARN suffix (dimension LoadBalancer)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "Target group ARN suffix (dimension TargetGroup)."
  type        = string
}

variable "alb_5xx_threshold" {
  description = "5xx responses per minute (from the targets, or from the ALB itself) that count as a bad minute."
  type        = number
  default     = 5
}

variable "cluster_name" {
  description = "ECS cluster name (Container Insights dimension)."
  type        = string
}

variable "service_names" {
  description = "ECS services watched for running fewer tasks than desired."
  type        = list(string)
}

variable "rds_instance_identifier" {
  description = "RDS instance identifier."
  type        = string
}

variable "rds_cpu_percent" {
  description = "RDS CPU alarm threshold in percent."
  type        = number
  default     = 80
}

variable "rds_free_storage_gib" {
  description = "RDS free storage alarm threshold in GiB."
  type        = number
  default     = 2
}

variable "rds_max_connections" {
  description = "RDS connection count alarm threshold."
  type        = number
  default     = 60
}

variable "redis_cache_name" {
  description = "ElastiCache serverless cache name (dimension clusterId)."
  type        = string
}

variable "redis_max_ecpu_per_second" {
  description = "The cache's ECPU/s usage limit; the alarm fires at 80%."
  type        = number
}

variable "redis_max_data_storage_gb" {
  description = "The cache's data storage limit in GB; the alarm fires at 80%."
  type        = number
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the application's own metrics."
  type        = string
}

variable "metrics_dimensions" {
  description = "Dimensions of the application's own metrics."
  type        = map(string)
}

variable "backlog_age_seconds" {
  description = "Age of the oldest unstored message that raises the alarm."
  type        = number
  default     = 300
}

variable "end_to_end_p99_seconds" {
  description = "p99 of the time from POST to stored (the consumer's EndToEndSeconds) that raises the alarm."
  type        = number
  default     = 5
}

variable "end_to_end_alarm_minutes" {
  description = "Minutes in a row the end-to-end p99 must stay above end_to_end_p99_seconds before the alarm fires."
  type        = number
  default     = 5
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
