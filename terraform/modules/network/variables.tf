variable "name" {
  description = "Name prefix for every resource."
  type        = string
}

variable "cidr" {
  description = "IPv4 CIDR of the VPC; split into /20 subnets (public from index 0, private from index 8)."
  type        = string
  default     = "10.0.0.0/16"
}

variable "az_count" {
  description = "Number of availability zones to spread the subnets over."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "az_count must be between 2 (ALB and RDS need two) and 6."
  }
}

variable "nat_gateway" {
  description = "NAT gateways, and a default route through them from the private subnets. false: none, no Elastic IP and no default route; the private subnets reach AWS only through VPC endpoints (interface_endpoint_services and the S3 gateway)."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "With nat_gateway: one NAT gateway for all AZs (cheap) instead of one per AZ (survives the loss of an AZ)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "interface_endpoint_services" {
  description = "AWS services reached through interface endpoints in the private subnets (short names: secretsmanager, ecr.api, ecr.dkr, logs, monitoring, ssmmessages, ...), with private DNS and a security group admitting HTTPS from the VPC only. Each costs about $7.30 a month per AZ plus $0.01 per GB. Empty: none (AWS APIs through the NAT gateway)."
  type        = set(string)
  default     = []
}
