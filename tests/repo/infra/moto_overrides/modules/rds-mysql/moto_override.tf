# Test-only (copied in by tests/repo/infra): moto drops rule descriptions, returns
# "account/sg-..." for referenced groups, does not return the parameters
# of a parameter group, and does not store an instance's engine_lifecycle_support.
resource "aws_vpc_security_group_ingress_rule" "mysql" {
  lifecycle {
    ignore_changes = [description, referenced_security_group_id]
  }
}

resource "aws_db_parameter_group" "this" {
  lifecycle {
    ignore_changes = [parameter]
  }
}

resource "aws_db_instance" "this" {
  lifecycle {
    ignore_changes = [engine_lifecycle_support]
  }
}
