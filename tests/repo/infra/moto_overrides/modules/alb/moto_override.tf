# Test-only (copied in by tests/repo/infra). moto has no CloudFront VPC origins
# (CreateVpcOrigin answers 404), so nothing creates the security group
# CloudFront makes for them: the VPC origin, the lookup of that group and the
# ALB's rule for it are left out. The distribution still gets a VPC origin
# config (moto does not store it); tests/repo/infra/test_production.py asserts
# all three on the plan of the real modules, without this file.
resource "aws_cloudfront_vpc_origin" "this" {
  count = 0
}

data "aws_security_group" "cloudfront" {
  count = 0
}

# Never created (count = 0); the provider still wants a source in the
# configuration, and the real one refers to the lookup left out above.
resource "aws_vpc_security_group_ingress_rule" "cloudfront" {
  count                        = 0
  referenced_security_group_id = aws_security_group.this.id
}

output "vpc_origin_id" {
  value = "moto-has-no-vpc-origins"
}
