include "root" {
  path = find_in_parent_folders("root.hcl")
}

# Production, highly available: 3 AZs (no NAT gateway: see interface_endpoints), Multi-AZ RDS
# with deletion protection and a week of backups, at least 2 tasks per
# service spread over the AZs.
inputs = {
  az_count                  = 3
  single_nat_gateway        = false
  protect_data              = true
  db_instance_class         = "db.t4g.small"
  db_allocated_storage      = 50
  db_max_allocated_storage  = 200
  db_multi_az               = true
  db_backup_retention_days  = 7
  db_max_connections_alarm  = 120
  redis_max_data_storage_gb = 5
  redis_max_ecpu_per_second = 20000
  log_retention_days        = 30
  producer                  = { cpu = 512, memory = 1024, desired_count = 2, min_count = 2, max_count = 6 }
  consumer                  = { cpu = 512, memory = 1024, desired_count = 2, min_count = 2, max_count = 6 }

  # Twice the defaults, which are derived for 256-unit tasks (docs/deploying/scaling.md).
  producer_requests_per_task_target = 80000
  consumer_backlog_per_task_target  = 300000

  # Alarms go to this address (replace it with the team's). AWS mails it a
  # confirmation link on the first deploy; follow it, or nothing arrives.
  alarm_email = "countq-prod-alarms@example.com"

  # WAF on the distribution: at most waf_post_count_limit POST /count per
  # client IP per 5 minutes, and the AWS common rule set.
  waf_enabled          = true
  waf_post_count_limit = 300

  # Bump and run scripts/deploy.sh to rotate the app's MySQL password
  # (docs/operations/runbook.md, "Rotate the MySQL app password").
  mysql_app_password_version = 1

  # Interface endpoints for the AWS APIs the services call, in every AZ
  # (5 x 3 AZs, about $120 a month): the tasks and the importer reach AWS
  # only inside the VPC. Nothing may reach the internet, so there is no NAT
  # gateway (single_nat_gateway above applies only without endpoints).
  interface_endpoints = true

  # OpenTelemetry traces to X-Ray (an ADOT collector sidecar per task), 10%
  # of POSTs sampled. Without a NAT the tasks pull the collector from this
  # account's ECR: scripts/deploy.sh copies the pinned image there first
  # (tracing_collector_mirror), and X-Ray gets its interface endpoint
  # (docs/operations/runbook.md, "Traces").
  tracing = true
}
