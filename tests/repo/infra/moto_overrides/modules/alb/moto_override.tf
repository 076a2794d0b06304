# Test-only (copied in by tests/repo/infra): moto drops rule descriptions.
resource "aws_vpc_security_group_ingress_rule" "http" {
  lifecycle {
    ignore_changes = [description]
  }
}
