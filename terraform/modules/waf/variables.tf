variable "name" {
  description = "Name of the web ACL and prefix of its rule and metric names."
  type        = string
}

variable "rate_limit" {
  description = "Requests one client IP may send to the rate-limited method and path per window before WAF answers 429."
  type        = number

  validation {
    condition     = var.rate_limit >= 10 && var.rate_limit <= 2000000000
    error_message = "rate_limit must be between 10 and 2,000,000,000 (AWS WAF's bounds)."
  }
}

variable "rate_limit_window_seconds" {
  description = "Window the rate is counted over (60, 120, 300 or 600 seconds)."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 120, 300, 600], var.rate_limit_window_seconds)
    error_message = "rate_limit_window_seconds must be 60, 120, 300 or 600."
  }
}

variable "rate_limited_method" {
  description = "HTTP method the rate limit counts."
  type        = string
  default     = "POST"
}

variable "rate_limited_path" {
  description = "Exact URI path the rate limit counts."
  type        = string
  default     = "/count"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
