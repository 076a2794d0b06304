# Test-only (copied in by tests/repo/infra): moto drops rule descriptions and
# returns "account/sg-..." for referenced groups.
resource "aws_vpc_security_group_ingress_rule" "redis" {
  lifecycle {
    ignore_changes = [description, referenced_security_group_id]
  }
}
