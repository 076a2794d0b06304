# GitHub Actions' access to the account (terraform/bootstrap): run once per
# account and region, by an administrator, before the first deploy from
# GitHub. It shares root.hcl's providers and state bucket (state key
# bootstrap/terraform.tfstate); the first run creates that bucket:
#
#   cd terraform/infrastructure/bootstrap
#   terragrunt apply --backend-bootstrap
#
# It is no environment: scripts/deploy.sh accepts only test, dev, stage, prod.
include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "${get_repo_root()}/terraform//bootstrap"
}

inputs = {
  # The repository whose workflows may deploy: owner/name, as GitHub spells it.
  github_repository = get_env("COUNTQ_GITHUB_REPOSITORY")
}
