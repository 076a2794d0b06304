include "root" {
  path = find_in_parent_folders("root.hcl")
}

# Staging: production's shape at development sizes (2 AZs, one NAT).
inputs = {
  az_count                  = 2
  single_nat_gateway        = true
  protect_data              = false
  db_instance_class         = "db.t4g.micro"
  db_allocated_storage      = 20
  db_multi_az               = false
  db_backup_retention_days  = 3
  redis_max_data_storage_gb = 1
  redis_max_ecpu_per_second = 5000
  log_retention_days        = 14
  producer                  = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 3 }
  consumer                  = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 3 }

  # Alarms go to this address (replace it with the team's). AWS mails it a
  # confirmation link on the first deploy; follow it, or nothing arrives.
  alarm_email = "countq-stage-alarms@example.com"

  # WAF on the distribution: at most waf_post_count_limit POST /count per
  # client IP per 5 minutes, and the AWS common rule set.
  waf_enabled          = true
  waf_post_count_limit = 300

  # Bump and run scripts/deploy.sh to rotate the app's MySQL password
  # (docs/operations/runbook.md, "Rotate the MySQL app password").
  mysql_app_password_version = 1

  # AWS APIs through the NAT gateway; prod has interface endpoints instead
  # (5 endpoints x 2 AZs would cost about $73 a month here).
  interface_endpoints = false

  # OpenTelemetry traces to X-Ray (an ADOT collector sidecar per task), 10%
  # of POSTs sampled (docs/operations/runbook.md, "Traces").
  tracing = true
}
