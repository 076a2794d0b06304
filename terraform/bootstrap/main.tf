# What GitHub Actions may do in this account: one OIDC provider (account-wide),
# one deploy role per environment, one read-only plan role for pull requests.
# Run once per account and region, by an administrator (see README.md); the
# roles then deploy without any long-lived key in GitHub.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  oidc_host = "token.actions.githubusercontent.com"
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name

  # Built from its parts rather than read from the resource, so the trust
  # policies are complete in the plan (and testable there).
  oidc_provider_arn = "arn:${local.partition}:iam::${local.account}:oidc-provider/${local.oidc_host}"

  # The token's sub claim: a job that names a GitHub environment, and a job
  # run for a pull request (which names no environment).
  deploy_subjects = { for env in var.environments : env => "repo:${var.github_repository}:environment:${env}" }
  plan_subject    = "repo:${var.github_repository}:pull_request"

  # Outside <name>-<env>-*, so no deploy role can change its own permissions.
  deploy_role_names = { for env in var.environments : env => "${var.name}-github-deploy-${env}" }
  plan_role_name    = "${var.name}-github-plan"
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]

  tags = var.tags
}

# An account that already trusts GitHub keeps its provider: fail here, in the
# plan, if it is not there.
data "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 0 : 1

  arn = local.oidc_provider_arn
}

# --- Trust: each role accepts only GitHub tokens meant for AWS STS whose
# subject is exactly its own (no wildcard can reach these conditions).

data "aws_iam_policy_document" "trust" {
  #checkov:skip=CKV_AWS_358:Each sub is repo:<github_repository>:environment:<env> or :pull_request, with github_repository validated as owner/name without wildcards (variables.tf); checkov cannot see through that input. tests/repo/cd checks the rendered policies.
  # Keyed by role name.
  for_each = merge(
    { for env, subject in local.deploy_subjects : local.deploy_role_names[env] => subject },
    { (local.plan_role_name) = local.plan_subject },
  )

  statement {
    sid     = "GitHubOidc"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = [each.value]
    }
  }
}

# --- Deploy roles: one per environment, assumable only by a job of this
# repository that runs in the GitHub environment of the same name.

resource "aws_iam_role" "deploy" {
  for_each = var.environments

  name                 = local.deploy_role_names[each.key]
  description          = "GitHub Actions deploys countq ${each.key} from ${var.github_repository} (environment ${each.key})"
  assume_role_policy   = data.aws_iam_policy_document.trust[local.deploy_role_names[each.key]].json
  max_session_duration = var.max_session_hours * 3600

  tags = var.tags

  depends_on = [aws_iam_openid_connect_provider.github, data.aws_iam_openid_connect_provider.github]
}

# Several managed policies per role: together they exceed the 6,144
# characters one policy may hold (see policies.tf).
locals {
  deploy_policy_documents = {
    "state-iam"  = data.aws_iam_policy_document.deploy_state_iam
    "network"    = data.aws_iam_policy_document.deploy_network
    "compute"    = data.aws_iam_policy_document.deploy_compute
    "data"       = data.aws_iam_policy_document.deploy_data
    "edge-alarm" = data.aws_iam_policy_document.deploy_edge_alarm
    "key-waf"    = data.aws_iam_policy_document.deploy_key_waf
  }
  deploy_policies = merge([
    for env in var.environments : {
      for part, document in local.deploy_policy_documents :
      "${env}-${part}" => { env = env, part = part, json = document[env].minified_json }
    }
  ]...)
}

resource "aws_iam_policy" "deploy" {
  for_each = local.deploy_policies

  name        = "${local.deploy_role_names[each.value.env]}-${each.value.part}"
  description = "countq ${each.value.env} deploy from GitHub Actions: ${each.value.part}"
  policy      = each.value.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "deploy" {
  for_each = local.deploy_policies

  role       = aws_iam_role.deploy[each.value.env].name
  policy_arn = aws_iam_policy.deploy[each.key].arn
}

# --- Plan role: pull requests of this repository only. Fork pull requests
# never get an OIDC token (GitHub withholds id-token: write from them), and
# the workflow skips them as well.

resource "aws_iam_role" "plan" {
  name               = local.plan_role_name
  description        = "GitHub Actions plans countq for pull requests of ${var.github_repository} (read-only)"
  assume_role_policy = data.aws_iam_policy_document.trust[local.plan_role_name].json

  tags = var.tags

  depends_on = [aws_iam_openid_connect_provider.github, data.aws_iam_openid_connect_provider.github]
}

resource "aws_iam_policy" "plan" {
  name        = "${local.plan_role_name}-read"
  description = "countq plan from GitHub Actions pull requests: read state and data sources"
  policy      = data.aws_iam_policy_document.plan.minified_json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "plan" {
  role       = aws_iam_role.plan.name
  policy_arn = aws_iam_policy.plan.arn
}
