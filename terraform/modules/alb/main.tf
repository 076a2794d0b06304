# An internal ALB in private subnets: nothing on the internet can open a
# connection to it. CloudFront reaches it through a VPC origin, whose network
# interfaces in this VPC carry the security group CloudFront creates for VPC
# origins; that group is the only source the ALB accepts.

data "aws_caller_identity" "current" {}

locals {
  # Created by CloudFront in the VPC with its first VPC origin there (one per
  # VPC, managed by AWS: never modified here, only referenced).
  cloudfront_security_group = "CloudFront-VPCOrigins-Service-SG"
  listener_port             = 80
}

resource "aws_security_group" "this" {
  name        = "${var.name}-alb"
  description = "ALB ${var.name}: HTTP from the CloudFront VPC origin only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })
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
  #checkov:skip=CKV2_AWS_20:Internal ALB behind CloudFront, which terminates viewer HTTPS; no public listener exists to redirect.
  #checkov:skip=CKV2_AWS_28:The WAF sits on the CloudFront distribution (modules/waf); every request reaches this internal ALB through it.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = true
  security_groups            = [aws_security_group.this.id]
  subnets                    = var.subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = 60

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    enabled = true
  }

  tags = var.tags

  # ELB writes a test object when logging is turned on; the policy must exist first.
  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:Targets are Fargate tasks in private subnets reached only from the ALB's group; TLS ends at CloudFront.
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
  #checkov:skip=CKV_AWS_2:Internal listener reached only by the CloudFront VPC origin over AWS's network; an internal ALB name cannot carry a certificate CloudFront would accept.
  #checkov:skip=CKV_AWS_103:Same as CKV_AWS_2: no TLS on the VPC-origin-only internal listener.
  load_balancer_arn = aws_lb.this.arn
  port              = local.listener_port
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

# --- CloudFront's way in: the VPC origin, and the ALB open to its group only

# CloudFront refuses to update or delete a VPC origin that a distribution
# uses (CannotUpdateEntityWhileInUse; terraform-provider-aws issue 40905), and
# the provider plans every change to one as an update. So any change of what
# it points at replaces it, new one first: Terraform creates the new origin,
# updates the distribution onto it (its vpc_origin_id changes), then deletes
# the old one, no longer in use. The name carries a hash of the target so the
# two can coexist; a name change alone is ignored (an update CloudFront would
# refuse), so an origin made before the hash keeps its name until it is replaced.
# create_before_destroy carries over to what the origin depends on (the ALB
# and its security group): those need names that can coexist when replaced.
locals {
  vpc_origin_target = {
    arn                    = aws_lb.this.arn
    http_port              = local.listener_port
    https_port             = 443
    origin_protocol_policy = "http-only"
    origin_ssl_protocols   = ["TLSv1.2"]
  }
}

resource "terraform_data" "vpc_origin_target" {
  input = local.vpc_origin_target
}

resource "aws_cloudfront_vpc_origin" "this" {
  vpc_origin_endpoint_config {
    name                   = "${var.name}-${substr(sha256(jsonencode(local.vpc_origin_target)), 0, 8)}"
    arn                    = aws_lb.this.arn
    http_port              = local.vpc_origin_target.http_port
    https_port             = local.vpc_origin_target.https_port
    origin_protocol_policy = local.vpc_origin_target.origin_protocol_policy

    # Required by the API even for http-only; unused.
    origin_ssl_protocols {
      items    = local.vpc_origin_target.origin_ssl_protocols
      quantity = length(local.vpc_origin_target.origin_ssl_protocols)
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
    replace_triggered_by  = [terraform_data.vpc_origin_target]
    ignore_changes        = [vpc_origin_endpoint_config[0].name]
  }
}

data "aws_security_group" "cloudfront" {
  filter {
    name   = "group-name"
    values = [local.cloudfront_security_group]
  }

  filter {
    name   = "vpc-id"
    values = [var.vpc_id]
  }

  # The group exists once the VPC origin is deployed.
  depends_on = [aws_cloudfront_vpc_origin.this]
}

resource "aws_vpc_security_group_ingress_rule" "cloudfront" {
  #checkov:skip=CKV_AWS_260:The only source is CloudFront's VPC origin security group (referenced_security_group_id), no CIDR; checkov does not resolve data sources.
  security_group_id            = aws_security_group.this.id
  description                  = "HTTP from the CloudFront VPC origin"
  referenced_security_group_id = data.aws_security_group.cloudfront.id
  ip_protocol                  = "tcp"
  from_port                    = local.listener_port
  to_port                      = local.listener_port
}

# --- Access logs: one object per 5 minutes per node, kept access_log_days

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the log bucket; logging its own reads would log the logs.
  #checkov:skip=CKV_AWS_21:Append-only log objects, expired by the lifecycle rule; versions would only keep expired logs.
  #checkov:skip=CKV_AWS_144:Access logs are operational records; a cross-region replica doubles cost for no recovery need.
  #checkov:skip=CKV_AWS_145:ELB access logs support SSE-S3 only, not SSE-KMS.
  #checkov:skip=CKV2_AWS_62:No consumer for S3 event notifications on access logs.
  bucket        = "${var.name}-alb-logs-${data.aws_caller_identity.current.account_id}"
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket = aws_s3_bucket.logs.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# ELB's log delivery service principal, as AWS documents it now: the older
# per-Region ELB account IDs do not exist in Regions opened since 2022 (and
# the provider's aws_elb_service_account fails there).
data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "ElbLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json

  depends_on = [aws_s3_bucket_public_access_block.logs]
}
