output "dns_name" {
  description = "DNS name of the internal ALB (resolves to private addresses)."
  value       = aws_lb.this.dns_name
}

output "arn_suffix" {
  description = "ARN suffix of the ALB (CloudWatch dimension LoadBalancer)."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn" {
  description = "ARN of the target group."
  value       = aws_lb_target_group.this.arn
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group (CloudWatch dimension TargetGroup)."
  value       = aws_lb_target_group.this.arn_suffix
}

output "security_group_id" {
  description = "Security group of the ALB (allow it on the targets)."
  value       = aws_security_group.this.id
}

output "vpc_origin_id" {
  description = "ID of the CloudFront VPC origin for this ALB (the distribution's API origin)."
  value       = aws_cloudfront_vpc_origin.this.id
}

output "access_logs_bucket" {
  description = "Bucket holding the ALB access logs."
  value       = aws_s3_bucket.logs.id
}

output "listener_arn" {
  description = "ARN of the HTTP listener that forwards to the target group (services attach to the group only once it exists)."
  value       = aws_lb_listener.http.arn
}
