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
  description = "MySQL engine version."
  type        = string
  default     = "8.0"
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
  description = "Refuse deletion and keep a final snapshot."
  type        = bool
  default     = false
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
  description = "Bump to generate and store a new application password."
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
