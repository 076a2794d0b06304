# Test-only (copied in by tests/repo/infra): moto cannot register a scalable
# target (no ListTagsForResource), so the target is left out; the scaling
# policy itself is still created.
resource "aws_appautoscaling_target" "this" {
  count = 0
}

# moto drops descriptions and returns "account/sg-..." for referenced groups.
resource "aws_vpc_security_group_ingress_rule" "this" {
  lifecycle {
    ignore_changes = [description, referenced_security_group_id]
  }
}

# moto does not store these service attributes.
resource "aws_ecs_service" "this" {
  lifecycle {
    ignore_changes = [desired_count, availability_zone_rebalancing, health_check_grace_period_seconds, enable_execute_command]
  }
}
