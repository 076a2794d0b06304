variable "name" {
  description = "Name of the cache and prefix of its resources."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cache security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the cache."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 6379-6380, keyed by a label."
  type        = map(string)
}

variable "engine" {
  description = "Cache engine: valkey (Redis-compatible, cheapest serverless minimum) or redis."
  type        = string
  default     = "valkey"

  validation {
    condition     = contains(["valkey", "redis"], var.engine)
    error_message = "engine must be valkey or redis."
  }
}

variable "access_string" {
  description = "Redis ACL rules of the application user."
  type        = string
  default     = "on ~* &* +@all -@dangerous"
}

variable "max_data_storage_gb" {
  description = "Usage limit: maximum data stored, in GB."
  type        = number
  default     = 1
}

variable "max_ecpu_per_second" {
  description = "Usage limit: maximum ElastiCache Processing Units per second."
  type        = number
  default     = 5000
}

variable "snapshot_retention_limit" {
  description = "Days of daily snapshots (0 disables them)."
  type        = number
  default     = 0
}

variable "create_cache" {
  description = "Create the user group and the serverless cache. Only tests against an emulator without ElastiCache Serverless set this to false."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
