variable "name" {
  description = "Name of the ALB and its target group (at most 32 characters)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the ALB."
  type        = string
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC; the ALB may only send to targets inside it."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets, at least two AZs."
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

variable "certificate_arn" {
  description = "ACM certificate (same region) for an HTTPS listener; null for HTTP only."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
