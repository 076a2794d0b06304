variable "github_repository" {
  description = "The one GitHub repository trusted to deploy, as owner/name, exactly as GitHub spells it (the token's sub claim is case-sensitive)."
  type        = string

  validation {
    # No wildcard can reach a trust policy: owner and name are literal.
    condition     = can(regex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$", var.github_repository))
    error_message = "github_repository must be owner/name (letters, digits, '-', '_', '.'), without wildcards."
  }
}

variable "environments" {
  description = "Environments that get a deploy role; each must be a GitHub environment of the repository with the same name."
  type        = set(string)
  default     = ["test", "dev", "stage", "prod"]

  validation {
    # The stack names its resources <name>-<environment>; the same rule keeps the
    # deploy roles' name prefixes from overlapping (see the stack's variables).
    condition     = alltrue([for env in var.environments : can(regex("^[a-z][a-z0-9]{1,9}$", env))])
    error_message = "Each environment must be 2-10 lowercase letters or digits."
  }
}

variable "name" {
  description = "Application name: the stack names every resource <name>-<environment>, and the deploy roles are limited to that prefix."
  type        = string
  default     = "countq"
}

variable "create_oidc_provider" {
  description = "Create the account-wide GitHub OIDC provider. Set false when the account already has one for token.actions.githubusercontent.com."
  type        = bool
  default     = true
}

variable "route53_zone_ids" {
  description = "Hosted zones whose records the deploy roles may change (the zones of the environments' domain_name inputs); empty when no environment has a custom domain."
  type        = list(string)
  default     = []
}

variable "max_session_hours" {
  description = "Longest session a deploy role grants: a first deploy (RDS, CloudFront) takes close to an hour."
  type        = number
  default     = 2

  validation {
    condition     = var.max_session_hours >= 1 && var.max_session_hours <= 12
    error_message = "max_session_hours must be between 1 and 12."
  }
}

variable "tags" {
  description = "Tags added to every resource (the provider's default tags come on top)."
  type        = map(string)
  default     = {}
}
