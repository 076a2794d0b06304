# Root Terragrunt configuration: every environment folder includes this and
# only sets its inputs. Terragrunt copies terraform/ (the "//" below) so the
# stack's relative module sources resolve.

# The Terragrunt the deploy is tested with: the 1.1 line that both workflows
# pin (TERRAGRUNT_VERSION) and the deploy replay's stand-in models. Before
# 0.87 a missing state bucket was created silently under TG_NON_INTERACTIVE,
# in whatever region was given; since then only an explicit bootstrap makes
# it (deploy.sh --first-deploy). The stack's write-only secret values and
# ephemeral passwords need Terraform 1.11.
terragrunt_version_constraint = ">= 1.1.6, < 1.2.0"
terraform_version_constraint  = ">= 1.11.0, < 2.0.0"

locals {
  environment = basename(get_terragrunt_dir())
  region      = get_env("AWS_REGION", "eu-central-1")
  # Pin the account (COUNTQ_AWS_ACCOUNT_ID) so credentials for the wrong
  # account fail before any change; unset, the current account is used.
  account_id = get_env("COUNTQ_AWS_ACCOUNT_ID", get_aws_account_id())
}

terraform {
  source = "${get_repo_root()}/terraform//stack"
}

remote_state {
  backend = "s3"

  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }

  config = {
    bucket       = "countq-tfstate-${local.account_id}-${local.region}"
    key          = "${local.environment}/terraform.tfstate"
    region       = local.region
    encrypt      = true
    use_lockfile = true
  }
}

generate "provider" {
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOT
    provider "aws" {
      region              = "${local.region}"
      allowed_account_ids = ["${local.account_id}"]

      default_tags {
        tags = {
          Project     = "countq"
          Environment = "${local.environment}"
          ManagedBy   = "terragrunt"
        }
      }
    }

    # CloudFront certificates must live in us-east-1.
    provider "aws" {
      alias               = "us_east_1"
      region              = "us-east-1"
      allowed_account_ids = ["${local.account_id}"]

      default_tags {
        tags = {
          Project     = "countq"
          Environment = "${local.environment}"
          ManagedBy   = "terragrunt"
        }
      }
    }
  EOT
}

# image_tag has no fallback: deploy.sh passes the one to run (-var image_tag=...);
# by hand, give it the same way or as TF_VAR_image_tag, else Terraform stops.
inputs = {
  environment       = local.environment
  importer_zip_path = "${get_repo_root()}/build/importer.zip"
}
