variable "name" {
  description = "Function name and prefix of its resources."
  type        = string
}

variable "zip_path" {
  description = "Deployment package built by scripts/build-importer-zip.sh."
  type        = string
}

variable "handler" {
  description = "Lambda handler."
  type        = string
  default     = "countq.importer.handler.handler"
}

variable "vpc_id" {
  description = "VPC of the function's security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the function runs in (it needs to reach RDS)."
  type        = list(string)
}

variable "egress_rules" {
  description = "Every TCP flow the function starts, keyed by a description: a port range to one IPv4 CIDR or one prefix list (set exactly one). Nothing else leaves it; DNS to the Amazon resolver is not subject to security groups."
  type = map(object({
    from_port      = number
    to_port        = number
    cidr_ipv4      = optional(string)
    prefix_list_id = optional(string)
  }))

  validation {
    condition     = alltrue([for rule in values(var.egress_rules) : (rule.cidr_ipv4 == null) != (rule.prefix_list_id == null)])
    error_message = "Each egress rule sets exactly one of cidr_ipv4 and prefix_list_id."
  }
}

variable "mysql_host" {
  description = "Database host (MYSQL_HOST)."
  type        = string
}

variable "mysql_port" {
  description = "Database port (MYSQL_PORT)."
  type        = number
  default     = 3306
}

variable "mysql_database" {
  description = "Database name (MYSQL_DATABASE)."
  type        = string
}

variable "mysql_tls_ca" {
  description = "Path of the CA bundle MySQL's certificate must chain to (MYSQL_TLS_CA); scripts/build-importer-zip.sh puts the RDS bundle at the zip's root, which Lambda unpacks to /var/task."
  type        = string
  default     = "/var/task/mysql-ca.pem"
}

variable "master_secret_arn" {
  description = "RDS-managed master user secret (DB_SECRET_ARN of the function)."
  type        = string
}

variable "app_secret_arn" {
  description = "Secret of the application user the function creates (APP_DB_SECRET_ARN)."
  type        = string
}

variable "timeout" {
  description = "Function timeout in seconds (imports of large dumps need long)."
  type        = number
  default     = 900
}

variable "memory_size" {
  description = "Function memory in MiB."
  type        = number
  default     = 512
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the function (null: none, it draws on the account's pool). Not needed for safety: migrate and import take a MySQL named lock. New accounts often have too small a quota to reserve any."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 30
}

variable "retention_days" {
  description = "RETENTION_DAYS of the maintain action: days of messages kept besides today (null: keep everything)."
  type        = number
  default     = null
}

variable "maintenance_schedule" {
  description = "EventBridge schedule expression that invokes the maintain action (partitions created ahead, RETENTION_DAYS applied); null: no schedule."
  type        = string
  default     = "rate(1 hour)"
}

variable "alarm_topic_arn" {
  description = "SNS topic the importer's alarms notify: failed invocations and, with maintenance_schedule, the partition horizon."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the partition horizon metric the maintain action prints (embedded metric format)."
  type        = string
  default     = "countq"
}

variable "metrics_dimensions" {
  description = "Dimensions of that metric: { Environment = ... } (METRICS_ENVIRONMENT of the function)."
  type        = object({ Environment = string })
}

variable "partition_horizon_alarm_days" {
  description = "Alarm when the day partitions reach fewer than this many days ahead (maintain makes 7 to 8), or when no maintain run reported the horizon for two hours."
  type        = number
  default     = 5
}

variable "force_destroy" {
  description = "Delete the imports bucket with its objects on destroy (non-production)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
