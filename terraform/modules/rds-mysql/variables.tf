variable "name" {
  description = "Identifier of the instance and prefix of its resources."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group (at least two AZs)."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 3306, keyed by a label (services, importer)."
  type        = map(string)
}

variable "engine_version" {
  description = "MySQL engine version: a major version (RDS picks its default minor and upgrades minors itself) or an exact one; the parameter family follows it."
  type        = string
  default     = "8.4"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must look like 8.4 or 8.4.5."
  }
}

variable "engine_lifecycle_support" {
  description = "RDS Extended Support: open-source-rds-extended-support-disabled (RDS upgrades the engine when its standard support ends) or open-source-rds-extended-support (keep running it, billed per vCPU-hour)."
  type        = string
  default     = "open-source-rds-extended-support-disabled"

  validation {
    condition     = contains(["open-source-rds-extended-support", "open-source-rds-extended-support-disabled"], var.engine_lifecycle_support)
    error_message = "engine_lifecycle_support must be open-source-rds-extended-support or open-source-rds-extended-support-disabled."
  }
}

variable "instance_class" {
  description = "Instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 100
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "countq"
}

variable "multi_az" {
  description = "Standby in a second AZ with automatic failover."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse deletion (lift it with an apply before destroying)."
  type        = bool
  default     = false
}

variable "final_snapshot_identifier" {
  description = "Name of the snapshot RDS takes when the instance is deleted (null: none). Must be unused in the account and region, so give each deletion its own (scripts/destroy.sh dates it)."
  type        = string
  default     = null
}

variable "cloudwatch_logs_exports" {
  description = "MySQL logs exported to CloudWatch Logs, each into a log group /aws/rds/instance/<name>/<log> this module creates."
  type        = list(string)
  default     = ["error", "slowquery"]
}

variable "log_retention_days" {
  description = "Retention of the exported log groups."
  type        = number
  default     = 30
}

variable "backup_retention_period" {
  description = "Days of automated backups (0 disables them)."
  type        = number
  default     = 1
}

variable "apply_immediately" {
  description = "Apply modifications now instead of in the maintenance window."
  type        = bool
  default     = true
}

variable "app_username" {
  description = "MySQL user name of the application (created by the importer)."
  type        = string
  default     = "countq_app"
}

variable "app_password_version" {
  description = "Bump to generate a new application password, stored as the secret's AWSPENDING version until the importer's provision action sets it on the MySQL user and makes it AWSCURRENT."
  type        = number
  default     = 1
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored (0 deletes at once)."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
