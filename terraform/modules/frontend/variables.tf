variable "name" {
  description = "Prefix of the bucket (<name>-frontend-<account id>) and distribution."
  type        = string
}

variable "alb_dns_name" {
  description = "DNS name of the internal ALB serving the API paths."
  type        = string
}

variable "alb_vpc_origin_id" {
  description = "ID of the CloudFront VPC origin of that ALB (modules/alb output vpc_origin_id)."
  type        = string
}

variable "web_acl_arn" {
  description = "ARN of a WAFv2 web ACL (scope CLOUDFRONT) attached to the distribution (null: none)."
  type        = string
  default     = null
}

# /metrics is left out on purpose: it stays inside the VPC, not on the internet.
# tests/repo/test_api_paths.py checks this list against the app's routes.
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
