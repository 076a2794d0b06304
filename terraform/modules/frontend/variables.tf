variable "name" {
  description = "Prefix of the bucket (<name>-frontend-<account id>) and distribution."
  type        = string
}

variable "alb_dns_name" {
  description = "DNS name of the ALB serving the API paths."
  type        = string
}

variable "alb_https" {
  description = "Reach the ALB over HTTPS (needs a certificate on the ALB valid for alb_dns_name)."
  type        = bool
  default     = false
}

# /metrics is left out on purpose: it stays inside the VPC, not on the internet.
variable "api_paths" {
  description = "Path patterns CloudFront forwards to the ALB, uncached; everything else comes from S3."
  type        = list(string)
  default     = ["/count", "/health", "/ready", "/stats", "/docs", "/docs/*", "/openapi.json"]
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}

variable "domain_name" {
  description = "Custom domain of the site (null: the *.cloudfront.net name only)."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Route53 hosted zone of domain_name (for certificate validation and the alias)."
  type        = string
  default     = null

  validation {
    condition     = var.domain_name == null || var.route53_zone_id != null
    error_message = "route53_zone_id is required when domain_name is set."
  }
}

variable "force_destroy" {
  description = "Delete the bucket with its objects on destroy (non-production)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
