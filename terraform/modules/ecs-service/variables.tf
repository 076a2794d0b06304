variable "name" {
  description = "Service and container name (producer, consumer, ...)."
  type        = string
}

variable "cluster_name" {
  description = "Name of the ECS cluster; prefixes roles, log group and task family."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the service's security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the tasks run in."
  type        = list(string)
}

variable "image" {
  description = "Container image (repository URL and tag)."
  type        = string
}

variable "create_service" {
  description = "Create the task definition, the service and its autoscaling. false (no image released yet) creates only what other modules refer to: security group, roles, log group."
  type        = bool
  default     = true
}

variable "command" {
  description = "Container command, e.g. [\"countq\", \"producer\"]."
  type        = list(string)
}

variable "container_port" {
  description = "Port the container listens on (HTTP_PORT)."
  type        = number
  default     = 5080
}

variable "health_check_command" {
  description = "Container health check command."
  type        = list(string)
  default     = ["CMD", "countq", "check"]
}

variable "environment" {
  description = "Plain environment variables. Never secret values: pass secret ARNs and list them in secret_arns."
  type        = map(string)
  default     = {}
}

variable "secret_arns" {
  description = "Secrets Manager ARNs the task role may read (and nothing else)."
  type        = list(string)
}

variable "elasticache_connect_arns" {
  description = "ElastiCache cache and user ARNs the task role may connect to with IAM authentication (elasticache:Connect); empty: none."
  type        = list(string)
  default     = []
}

variable "ecr_repository_arn" {
  description = "ECR repository the execution role may pull from."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the task may publish metrics to (null: none)."
  type        = string
  default     = null
}

variable "cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Fargate task memory in MiB."
  type        = number
  default     = 512
}

variable "desired_count" {
  description = "Initial number of tasks (autoscaling adjusts it afterwards)."
  type        = number
  default     = 1
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL; the consumer finishes its batch in this time."
  type        = number
  default     = 30
}

variable "autoscaling" {
  description = "Task count bounds and target tracking, one policy per tracker set: cpu_target (average CPU percent); requests_per_target (ALBRequestCountPerTarget: requests per task per minute, resource_label \"<alb arn_suffix>/<target group arn_suffix>\"); backlog_per_task (a backlog metric every task reports, divided by the service's RunningTaskCount from Container Insights: messages per task)."
  type = object({
    min_capacity = number
    max_capacity = number
    cpu_target   = optional(number)
    requests_per_target = optional(object({
      target_value   = number
      resource_label = string
    }))
    backlog_per_task = optional(object({
      target_value = number
      namespace    = string
      metric_name  = string
      dimensions   = map(string)
    }))
  })

  validation {
    condition = anytrue([
      var.autoscaling.cpu_target != null,
      var.autoscaling.requests_per_target != null,
      var.autoscaling.backlog_per_task != null,
    ])
    error_message = "Set at least one of cpu_target, requests_per_target and backlog_per_task."
  }
}

variable "load_balancer" {
  description = "ALB target group to register the tasks in, and the listener that forwards to it (the service is created after it). null: not behind the ALB. An object so that its presence is known at plan time."
  type = object({
    target_group_arn = string
    listener_arn     = string
  })
  default = null
}

variable "ingress_security_group_ids" {
  description = "Security groups allowed to reach container_port, keyed by a label."
  type        = map(string)
  default     = {}
}

variable "egress_rules" {
  description = "Every TCP flow the tasks start, keyed by a description: a port range to one IPv4 CIDR or one prefix list (set exactly one). Nothing else leaves the tasks; DNS to the Amazon resolver is not subject to security groups."
  type = map(object({
    from_port      = number
    to_port        = number
    cidr_ipv4      = optional(string)
    prefix_list_id = optional(string)
  }))

  validation {
    condition     = alltrue([for rule in values(var.egress_rules) : (rule.cidr_ipv4 == null) != (rule.prefix_list_id == null)])
    error_message = "Each egress rule sets exactly one of cidr_ipv4 and prefix_list_id."
  }
}

variable "enable_execute_command" {
  description = "ECS Exec (aws ecs execute-command) into the tasks: the service flag, the task role's ssmmessages channels and session logging to the service's log group, an init process, and read-write volumes at /var/lib/amazon/ssm and /var/log/amazon/ssm for the SSM agent under the read-only root filesystem. The tasks must reach ssmmessages over HTTPS."
  type        = bool
  default     = false
}

variable "service_discovery" {
  description = "Cloud Map namespace to register the service in (null: no registration). An object so that its presence is known at plan time."
  type = object({
    namespace_id = string
  })
  default = null
}

variable "tracing" {
  description = "Traces to X-Ray: an ADOT collector sidecar (this image; pulled with the execution role from collector_repository_arn when it is an ECR copy) and the OTEL_* variables, sampling this ratio of new traces. null: no tracing."
  type = object({
    collector_image          = string
    collector_repository_arn = optional(string)
    sample_ratio             = number
  })
  default = null
}

variable "log_retention_days" {
  description = "Retention of the service's CloudWatch log group."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
