variable "environment" {
  description = "Environment name (test, dev, stage, prod); part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lowercase letters or digits."
  }
}

variable "name" {
  description = "Application name; resources are named <name>-<environment>."
  type        = string
  default     = "countq"
}

variable "image_tag" {
  description = "Tag of the application image the services run (<env>-<git short sha>, in the ECR repository). Empty: no release yet, so no task definition, service or service autoscaling is created; scripts/deploy.sh applies with it empty on a first deploy until the migrations have run."
  type        = string

  validation {
    condition     = can(regex("^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$", var.image_tag))
    error_message = "image_tag must be an ECR image tag (letters, digits, _ . -; at most 128) or empty."
  }
}

variable "importer_zip_path" {
  description = "Path of the importer Lambda zip built by scripts/build-importer-zip.sh."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}

variable "az_count" {
  description = "Availability zones used (2, or 3 for high availability)."
  type        = number
  default     = 2
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs instead of one per AZ (no NAT gateway at all with interface_endpoints)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "Interface endpoints for the AWS APIs the services call (Secrets Manager, ECR api and dkr, CloudWatch Logs and monitoring, ssmmessages with ECS Exec) in every private subnet, so that tasks and importer reach AWS only inside the VPC (HTTPS to the VPC CIDR and to S3's gateway endpoint, no 0.0.0.0/0). About $7.30 a month per endpoint per AZ plus $0.01 per GB. true also removes the NAT gateways, their Elastic IPs and the private subnets' default route: nothing may use them. false: AWS APIs through the NAT gateway. The S3 gateway endpoint is always there (free)."
  type        = bool
  default     = false
}

variable "enable_execute_command" {
  description = "ECS Exec into the producer and consumer tasks (aws ecs execute-command), for debugging: session channels and logs on the task roles, writable SSM agent paths, and an ssmmessages endpoint with interface_endpoints. Off by default."
  type        = bool
  default     = false
}

variable "tracing" {
  description = "OpenTelemetry traces to X-Ray: an AWS Distro for OpenTelemetry collector sidecar in the producer and consumer tasks (its own log group and health check), the task roles' xray:PutTraceSegments and xray:PutTelemetryRecords, and an xray interface endpoint with interface_endpoints. Off by default."
  type        = bool
  default     = false
}

variable "tracing_sample_ratio" {
  description = "With tracing: the share of POSTs whose trace is kept (OTEL_TRACES_SAMPLER_ARG of parentbased_traceidratio); a batch linked to a kept message is kept too."
  type        = number
  default     = 0.1

  validation {
    condition     = var.tracing_sample_ratio >= 0 && var.tracing_sample_ratio <= 1
    error_message = "tracing_sample_ratio must be between 0 and 1."
  }
}

variable "tracing_collector_image" {
  description = "With tracing: the AWS Distro for OpenTelemetry collector image, pinned by its tag (<registry>/<repository>:<tag>, not latest). With tracing_collector_mirror, scripts/deploy.sh copies it into the stack's own ECR repository and the tasks run that copy."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"

  # The tag names the copy in the account's ECR: a moving one (or none) would
  # leave the copy behind the source without anyone noticing.
  validation {
    condition     = can(regex("^[^@]+/[^@:/]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.tracing_collector_image)) && !endswith(var.tracing_collector_image, ":latest")
    error_message = "tracing_collector_image must be pinned by a tag (<registry>/<repository>:<tag>, not latest)."
  }
}

variable "tracing_collector_mirror" {
  description = "With tracing: the tasks run a copy of tracing_collector_image from an ECR repository of the stack (<name>-<env>/otel-collector), which scripts/deploy.sh fills before the services start, so that tasks without internet egress (interface_endpoints) can pull it. false: the tasks pull tracing_collector_image where it is."
  type        = bool
  default     = true

  # With interface endpoints there is no NAT: a task whose sidecar image is
  # not in ECR could never start (CannotPullContainerError), so refuse it here.
  validation {
    condition = !(var.tracing && var.interface_endpoints && !var.tracing_collector_mirror &&
    !can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/", var.tracing_collector_image)))
    error_message = "tracing with interface_endpoints (no internet egress) needs the collector image in the account's ECR: keep tracing_collector_mirror on, or point tracing_collector_image at a private ECR repository."
  }
}

variable "end_to_end_p99_alarm_seconds" {
  description = "p99 of the time from POST to stored (seconds) above which, for end_to_end_alarm_minutes minutes in a row, the end-to-end alarm fires."
  type        = number
  default     = 5
}

variable "end_to_end_alarm_minutes" {
  description = "Minutes in a row the end-to-end p99 must be above end_to_end_p99_alarm_seconds to alarm."
  type        = number
  default     = 5
}

variable "protect_data" {
  description = "Production safety: deletion protection on RDS and the ALB, final snapshot, secrets and buckets not force-deleted."
  type        = bool
  default     = false
}

variable "producer" {
  description = "Producer tasks: Fargate size, initial count and autoscaling bounds."
  type = object({
    cpu           = number
    memory        = number
    desired_count = number
    min_count     = number
    max_count     = number
  })
  default = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
}

variable "consumer" {
  description = "Consumer tasks: Fargate size, initial count and autoscaling bounds."
  type = object({
    cpu           = number
    memory        = number
    desired_count = number
    min_count     = number
    max_count     = number
  })
  default = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
}

variable "producer_cpu_target" {
  description = "Average CPU percent the producer autoscaling keeps."
  type        = number
  default     = 60
}

variable "producer_requests_per_task_target" {
  description = "Requests per producer task per minute at the ALB (ALBRequestCountPerTarget) the producer autoscaling keeps, beside the CPU target. docs/deploying/scaling.md derives the default for a 256-unit task; scale it with the task's CPU."
  type        = number
  default     = 40000
}

variable "consumer_backlog_per_task_target" {
  description = "Queued messages per running consumer task (Backlog / RunningTaskCount) the consumer autoscaling keeps. docs/deploying/scaling.md derives the default from the drain rate of a 256-unit task; scale it with the task's CPU."
  type        = number
  default     = 150000
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage" {
  description = "RDS initial storage in GiB."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "RDS storage autoscaling ceiling in GiB."
  type        = number
  default     = 50
}

variable "db_multi_az" {
  description = "RDS Multi-AZ standby."
  type        = bool
  default     = false
}

variable "db_final_snapshot_identifier" {
  description = "Name of the snapshot RDS takes when the database is deleted. null: \"<name>-<environment>-final\" when protect_data, none otherwise. scripts/destroy.sh sets a dated one for prod."
  type        = string
  default     = null
}

variable "db_backup_retention_days" {
  description = "Days of RDS automated backups."
  type        = number
  default     = 1
}

variable "mysql_app_password_version" {
  description = "Bump (2, 3, ...) and run scripts/deploy.sh to rotate the application's MySQL password: the new one waits as AWSPENDING until the importer has set it on the MySQL user, then becomes AWSCURRENT; the services pick it up without a restart."
  type        = number
  default     = 1

  validation {
    condition     = var.mysql_app_password_version >= 1 && floor(var.mysql_app_password_version) == var.mysql_app_password_version
    error_message = "mysql_app_password_version must be a whole number from 1 up."
  }
}

variable "db_max_connections_alarm" {
  description = "RDS connection count that raises an alarm."
  type        = number
  default     = 60
}

variable "redis_max_data_storage_gb" {
  description = "ElastiCache Serverless data storage limit in GB."
  type        = number
  default     = 1
}

variable "redis_max_ecpu_per_second" {
  description = "ElastiCache Serverless ECPU/s limit."
  type        = number
  default     = 5000
}

variable "create_redis_cache" {
  description = "Create the ElastiCache Serverless cache and its user group. Test-only switch: false only for emulators without ElastiCache Serverless (moto)."
  type        = bool
  default     = true
}

variable "retention_days" {
  description = "RETENTION_DAYS: days of messages kept besides today, applied hourly by the importer's maintain action (null: keep everything)."
  type        = number
  default     = null
}

variable "importer_reserved_concurrency" {
  description = "Concurrency reserved for the importer Lambda (null: none). Off by default: new accounts often have too small a quota to reserve any, and migrate/import are safe to run concurrently (a MySQL named lock)."
  type        = number
  default     = null
}

variable "cloudfront_price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}

variable "domain_name" {
  description = "Custom domain for the site (null: the *.cloudfront.net name)."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Route53 hosted zone of domain_name."
  type        = string
  default     = null
}

variable "alarm_email" {
  description = "E-mail address the alarms go to. AWS mails it a confirmation link on the first apply; nothing is delivered until that link is followed."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address."
  }
}

variable "waf_enabled" {
  description = "Attach a WAF web ACL to the distribution: a per-IP rate limit on POST /count and the AWS common rule set (about $7 a month plus $0.60 per million requests)."
  type        = bool
  default     = false
}

variable "waf_post_count_limit" {
  description = "POST /count requests one client IP may send in 5 minutes before WAF answers 429 (10 or more)."
  type        = number
  default     = 300
}

variable "log_level" {
  description = "LOG_LEVEL of the services."
  type        = string
  default     = "INFO"
}

variable "queue_partitions" {
  description = "QUEUE_PARTITIONS of the services: streams the queue is spread over, each in its own cluster slot (1: the single {countq}:stream). It may change on a running stack; consumers drain every partition ever used."
  type        = number
  default     = 1

  validation {
    condition     = var.queue_partitions >= 1 && var.queue_partitions <= 64 && floor(var.queue_partitions) == var.queue_partitions
    error_message = "queue_partitions is a whole number from 1 to 64 (countq.config.MAX_QUEUE_PARTITIONS)."
  }
}

variable "summary_shards" {
  description = "SUMMARY_SHARDS of the services: rows of the count summary, each consumer adding to one (GET /count sums them)."
  type        = number
  default     = 64

  validation {
    condition     = var.summary_shards >= 1 && var.summary_shards <= 1024 && floor(var.summary_shards) == var.summary_shards
    error_message = "summary_shards is a whole number from 1 to 1024."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups."
  type        = number
  default     = 14
}
