# A web ACL for a CloudFront distribution. CLOUDFRONT-scope ACLs live in
# us-east-1: the caller passes its us-east-1 provider as this module's aws.

locals {
  rate_rule   = "${var.name}-post-count-rate"
  common_rule = "${var.name}-aws-common"
}

resource "aws_wafv2_web_acl" "this" {
  #checkov:skip=CKV2_AWS_31:No WAF logging: sampled requests and the per-rule CloudWatch metrics show what was blocked; full logs cost per request.
  #checkov:skip=CKV_AWS_192:No Log4j rule set: the API is Python (no Java, no Log4j); the AWS common rule set runs.
  name        = var.name
  description = "Rate limit on ${var.rate_limited_method} ${var.rate_limited_path} per client IP, and the AWS common rule set"
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  # Evaluated first: one client IP sending more than rate_limit writes in
  # rate_limit_window_seconds gets 429 until its rate falls below the limit.
  # Every other request (page, GET /count, /stats) is never counted.
  rule {
    name     = local.rate_rule
    priority = 0

    action {
      block {
        custom_response {
          response_code = 429
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.rate_limit
        evaluation_window_sec = var.rate_limit_window_seconds
        aggregate_key_type    = "IP"

        scope_down_statement {
          and_statement {
            statement {
              byte_match_statement {
                search_string         = var.rate_limited_method
                positional_constraint = "EXACTLY"

                field_to_match {
                  method {}
                }

                text_transformation {
                  priority = 0
                  type     = "NONE"
                }
              }
            }

            statement {
              byte_match_statement {
                search_string         = var.rate_limited_path
                positional_constraint = "EXACTLY"

                field_to_match {
                  uri_path {}
                }

                # Decoded first, so that a percent-encoded path is counted too.
                text_transformation {
                  priority = 0
                  type     = "URL_DECODE"
                }
              }
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = local.rate_rule
      sampled_requests_enabled   = true
    }
  }

  # AWS's baseline rules (bad bots without a User-Agent, bodies over 8 KB,
  # path traversal, ...); POST /count bodies are a few bytes.
  rule {
    name     = local.common_rule
    priority = 1

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = local.common_rule
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }

  tags = var.tags
}
