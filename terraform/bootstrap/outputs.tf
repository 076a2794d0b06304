output "oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider the roles trust."
  value       = local.oidc_provider_arn
}

output "deploy_role_arns" {
  description = "Deploy role ARN per environment: the AWS_DEPLOY_ROLE_ARN variable of that GitHub environment."
  value       = { for env, role in aws_iam_role.deploy : env => role.arn }
}

output "plan_role_arn" {
  description = "Plan role ARN: the repository variable AWS_PLAN_ROLE_ARN."
  value       = aws_iam_role.plan.arn
}

output "state_bucket" {
  description = "Terraform state bucket the roles may use (created by Terragrunt on the bootstrap run)."
  value       = local.state_bucket
}

output "github_variables" {
  description = "The gh commands that set the repository's and environments' variables to these roles (run once, from a clone of the repository)."
  value = join("\n", concat(
    [
      "gh variable set AWS_REGION --body '${local.region}'",
      "gh variable set AWS_PLAN_ROLE_ARN --body '${aws_iam_role.plan.arn}'",
    ],
    [for env in sort(tolist(var.environments)) : "gh variable set AWS_DEPLOY_ROLE_ARN --env ${env} --body '${aws_iam_role.deploy[env].arn}'"],
  ))
}
