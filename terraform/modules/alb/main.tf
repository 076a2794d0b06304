# Only CloudFront reaches the ALB: its origin-facing prefix list is the sole
# source allowed in, so the API cannot be hit directly from the internet.
data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

locals {
  https = var.certificate_arn != null
}

resource "aws_security_group" "this" {
  name        = "${var.name}-alb"
  description = "ALB ${var.name}: HTTP(S) from CloudFront only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  #checkov:skip=CKV_AWS_260:The source is CloudFront's origin-facing prefix list, not 0.0.0.0/0; checkov does not resolve prefix lists.
  security_group_id = aws_security_group.this.id
  description       = "HTTP from CloudFront"
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  count = local.https ? 1 : 0

  security_group_id = aws_security_group.this.id
  description       = "HTTPS from CloudFront"
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id = aws_security_group.this.id
  description       = "To the targets inside the VPC"
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = var.target_port
  to_port           = var.target_port
}

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_150:Deletion protection follows var.deletion_protection, which prod turns on (protect_data).
  #checkov:skip=CKV_AWS_91:Access logs need a log bucket per environment; CloudFront sees every request first and the ALB metrics are alarmed.
  #checkov:skip=CKV2_AWS_20:HTTP stays open for CloudFront, which terminates HTTPS for viewers (see the listener).
  #checkov:skip=CKV2_AWS_28:No WAF: the ALB only accepts CloudFront's origin-facing addresses; a WAF would sit on CloudFront if needed.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.this.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = 60

  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:Targets are Fargate tasks in private subnets reached only from the ALB's group; TLS ends at CloudFront (and the ALB).
  name                 = var.name
  port                 = var.target_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = var.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:CloudFront talks to this origin over HTTP inside AWS; viewers get HTTPS from CloudFront. Set certificate_arn for an HTTPS listener too.
  #checkov:skip=CKV_AWS_103:Same as CKV_AWS_2: no TLS on the CloudFront-only HTTP listener.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}
