output "arn" {
  description = "ARN of the web ACL (the distribution's web_acl_id)."
  value       = aws_wafv2_web_acl.this.arn
}

output "name" {
  description = "Name of the web ACL (CloudWatch dimension WebACL, in us-east-1)."
  value       = aws_wafv2_web_acl.this.name
}

output "rate_rule_name" {
  description = "Name of the rate-based rule (CloudWatch dimension Rule)."
  value       = local.rate_rule
}
