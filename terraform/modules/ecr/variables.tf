variable "name" {
  description = "Repository name (countq-<env>)."
  type        = string
}

variable "keep_images" {
  description = "How many images to keep; older ones expire."
  type        = number
  default     = 20
}

variable "force_delete" {
  description = "Delete the repository even when it still holds images (non-production)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
