variable "name" {
  description = "Name of the ALB, its target group and VPC origin (at most 32 characters)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the ALB (it must have an internet gateway attached, as CloudFront VPC origins require)."
  type        = string
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC; the ALB may only send to targets inside it."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the internal ALB, at least two AZs."
  type        = list(string)
}

variable "target_port" {
  description = "Port of the targets (HTTP_PORT of the producer)."
  type        = number
  default     = 5080
}

variable "health_check_path" {
  description = "Path the target group probes; must answer 200."
  type        = string
  default     = "/health"
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
  default     = false
}

variable "access_log_days" {
  description = "Days the access logs are kept in their bucket."
  type        = number
  default     = 30

  validation {
    condition     = var.access_log_days >= 1
    error_message = "access_log_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Delete the access log bucket with its objects on destroy (non-production)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
