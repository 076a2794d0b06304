# Test-only (copied in by tests/repo/infra): moto returns legacy forwarded_values
# next to cache policies, drops origin_access_control_id from origins and
# adds ssl_support_method to the default certificate.
resource "aws_cloudfront_distribution" "this" {
  lifecycle {
    ignore_changes = [default_cache_behavior, ordered_cache_behavior, origin, viewer_certificate]
  }
}
