variable "name" {
  description = "Cluster name; the Cloud Map namespace is <name>.local."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the Cloud Map private DNS namespace."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
