data "aws_caller_identity" "current" {}

locals {
  custom_domain = var.domain_name != null
  alb_origin_id = "alb"
  s3_origin_id  = "s3"
  # AWS-managed policies (fixed IDs, the same in every account).
  cache_optimized          = "658327ea-f89d-4fab-a63d-7e88639e58f6" # Managed-CachingOptimized
  cache_disabled           = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled
  all_viewer_except_host   = "b689b0a8-53d0-40ab-baf2-68738e2966ac" # Managed-AllViewerExceptHostHeader
  security_headers_managed = "67f7725c-6f97-4210-82d7-5512b31e9d03" # Managed-SecurityHeadersPolicy
}

# --- Private bucket, readable only by this distribution

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access is logged by CloudFront standard logging when enabled; the bucket is not reachable otherwise.
  #checkov:skip=CKV_AWS_144:Cross-region replication is pointless for a rebuildable static site.
  #checkov:skip=CKV_AWS_145:SSE-S3 suffices for public web assets; KMS would also need CloudFront key permissions.
  #checkov:skip=CKV2_AWS_62:No consumer for S3 event notifications.
  #checkov:skip=CKV2_AWS_61:Deploys replace the whole site; versioning plus the deploy keep history short, no lifecycle needed.
  bucket        = "${var.name}-frontend-${data.aws_caller_identity.current.account_id}"
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "CloudFrontRead"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

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

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# --- CloudFront: the page from S3, the API paths from the ALB, one origin
# for the browser (no CORS, no mixed content).

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = "${var.name}-frontend"
  description                       = "CloudFront to the ${var.name} frontend bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV2_AWS_32:Every behaviour sets the AWS-managed SecurityHeadersPolicy by its fixed ID; checkov only sees policies declared as resources.
  #checkov:skip=CKV_AWS_68:The web ACL comes in through var.web_acl_arn (modules/waf): on in prod and stage, an input elsewhere.
  #checkov:skip=CKV_AWS_86:Standard logging needs a log bucket with ACLs; CloudFront metrics are enough for this service.
  #checkov:skip=CKV_AWS_310:No origin failover: one S3 origin and one ALB origin, each regional and highly available itself.
  #checkov:skip=CKV_AWS_374:No geo restriction: the service is not region-bound.
  #checkov:skip=CKV2_AWS_47:No Log4j rule set: the API is Python (no Java, no Log4j); the web ACL runs the AWS common rule set.
  #checkov:skip=CKV_AWS_174:The default *.cloudfront.net certificate cannot set a minimum TLS version; with a domain, TLSv1.2_2021 is set.
  #checkov:skip=CKV2_AWS_42:A custom certificate is optional (domain_name); without it the default *.cloudfront.net certificate is used.
  enabled             = true
  is_ipv6_enabled     = true
  comment             = var.name
  default_root_object = "index.html"
  price_class         = var.price_class
  aliases             = local.custom_domain ? [var.domain_name] : []
  web_acl_id          = var.web_acl_arn

  origin {
    origin_id                = local.s3_origin_id
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  # The internal ALB, reached through its VPC origin (modules/alb): the
  # request enters the VPC from CloudFront, never from the internet.
  origin {
    origin_id   = local.alb_origin_id
    domain_name = var.alb_dns_name

    vpc_origin_config {
      vpc_origin_id = var.alb_vpc_origin_id
    }
  }

  default_cache_behavior {
    target_origin_id           = local.s3_origin_id
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    viewer_protocol_policy     = "redirect-to-https"
    compress                   = true
    cache_policy_id            = local.cache_optimized
    response_headers_policy_id = local.security_headers_managed
  }

  dynamic "ordered_cache_behavior" {
    for_each = var.api_paths

    content {
      path_pattern               = ordered_cache_behavior.value
      target_origin_id           = local.alb_origin_id
      allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
      cached_methods             = ["GET", "HEAD"]
      viewer_protocol_policy     = "redirect-to-https"
      compress                   = true
      cache_policy_id            = local.cache_disabled
      origin_request_policy_id   = local.all_viewer_except_host
      response_headers_policy_id = local.security_headers_managed
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = !local.custom_domain
    acm_certificate_arn            = local.custom_domain ? aws_acm_certificate_validation.this[0].certificate_arn : null
    ssl_support_method             = local.custom_domain ? "sni-only" : null
    minimum_protocol_version       = local.custom_domain ? "TLSv1.2_2021" : "TLSv1"
  }

  tags = var.tags
}

# --- Optional domain: certificate in us-east-1, DNS validation, alias records

resource "aws_acm_certificate" "this" {
  count    = local.custom_domain ? 1 : 0
  provider = aws.us_east_1

  domain_name       = var.domain_name
  validation_method = "DNS"

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = local.custom_domain ? {
    for o in aws_acm_certificate.this[0].domain_validation_options : o.domain_name => o
  } : {}

  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count    = local.custom_domain ? 1 : 0
  provider = aws.us_east_1

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

resource "aws_route53_record" "alias" {
  for_each = local.custom_domain ? toset(["A", "AAAA"]) : toset([])

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = each.value

  alias {
    name                   = aws_cloudfront_distribution.this.domain_name
    zone_id                = aws_cloudfront_distribution.this.hosted_zone_id
    evaluate_target_health = false
  }
}
