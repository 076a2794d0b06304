output "cloudfront_url" {
  description = "HTTPS URL of the site and API."
  value       = module.frontend.url
}

output "cloudfront_distribution_id" {
  description = "CloudFront distribution ID (invalidate after uploading the frontend)."
  value       = module.frontend.distribution_id
}

output "alb_dns_name" {
  description = "DNS name of the internal ALB (reachable only through the CloudFront VPC origin)."
  value       = module.alb.dns_name
}

output "frontend_bucket" {
  description = "Bucket to upload frontend/dist to."
  value       = module.frontend.bucket_name
}

output "ecr_repository_url" {
  description = "Repository to push the application image to."
  value       = module.ecr.repository_url
}

output "collector_mirror_source" {
  description = "With tracing and tracing_collector_mirror: the collector image deploy.sh copies into the account's ECR (else empty)."
  value       = local.collector_mirrored ? var.tracing_collector_image : ""
}

output "collector_mirror_image" {
  description = "With tracing and tracing_collector_mirror: the copy of the collector image the tasks run, which deploy.sh pushes before the services start (else empty)."
  value       = local.collector_mirrored ? local.collector_image : ""
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.cluster.cluster_name
}

output "producer_service_name" {
  description = "Name of the producer ECS service."
  value       = module.producer.service_name
}

output "consumer_service_name" {
  description = "Name of the consumer ECS service."
  value       = module.consumer.service_name
}

output "image_tag" {
  description = "Tag of the image the services run; empty before the first release. deploy.sh keeps the services on it until the new image's migrations have run."
  value       = var.image_tag
}

output "importer_function_name" {
  description = "Name of the importer Lambda (invoke with {\"action\":\"provision\"} after each deploy)."
  value       = module.importer.function_name
}

output "imports_bucket" {
  description = "Bucket for SQL dumps the importer loads."
  value       = module.importer.imports_bucket
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.monitoring.topic_arn
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the environment."
  value       = "https://console.aws.amazon.com/cloudwatch/home?region=${data.aws_region.current.name}#dashboards/dashboard/${module.monitoring.dashboard_name}"
}

output "alb_access_logs_bucket" {
  description = "Bucket holding the ALB access logs."
  value       = module.alb.access_logs_bucket
}
