# The deploy roles' permissions: what scripts/deploy.sh and scripts/destroy.sh
# call through the AWS CLI, and what Terraform calls for each resource type of
# terraform/stack and its modules. Every resource the stack creates is named
# <name>-<env>... (buckets, roles, repository, cluster, database, secrets, log
# groups, alarms) or, in EC2, tagged Environment=<env> by the provider's
# default tags; each role is held to its own environment that way. Where AWS
# has no such handle, the resource is "*" (or an ID wildcard) and the line
# says why. tests/repo/cd checks these documents against the scripts' calls
# and the stack's resource types.

locals {
  state_bucket = "${var.name}-tfstate-${local.account}-${local.region}"
  state_arn    = "arn:${local.partition}:s3:::${local.state_bucket}"

  # arn:<partition>:<service>:<region>:<account>, per service.
  arn = {
    for service in [
      "ec2", "ecr", "ecs", "elasticloadbalancing", "lambda", "logs", "rds", "elasticache",
      "secretsmanager", "sns", "cloudwatch", "servicediscovery", "application-autoscaling", "events",
    ] : service => "arn:${local.partition}:${service}:${local.region}:${local.account}"
  }
  iam_arn = "arn:${local.partition}:iam::${local.account}"

  # countq-<env>: the prefix of every resource name of that environment.
  prefix = { for env in var.environments : env => "${var.name}-${env}" }

  # Each EC2 create action and the type of the resource it creates: tags
  # requested on the call must name the environment (statements below).
  ec2_creates = {
    "ec2:CreateVpc"                     = "vpc"
    "ec2:CreateSubnet"                  = "subnet"
    "ec2:CreateInternetGateway"         = "internet-gateway"
    "ec2:CreateRouteTable"              = "route-table"
    "ec2:CreateSecurityGroup"           = "security-group"
    "ec2:CreateNatGateway"              = "natgateway"
    "ec2:AllocateAddress"               = "elastic-ip"
    "ec2:AuthorizeSecurityGroupIngress" = "security-group-rule"
    "ec2:AuthorizeSecurityGroupEgress"  = "security-group-rule"
    "ec2:CreateVpcEndpoint"             = "vpc-endpoint"
  }
  # Services that create their service-linked role on first use in an account.
  service_linked_roles = [
    "ecs.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "rds.amazonaws.com",
    "elasticache.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    "vpcorigin.cloudfront.amazonaws.com",
  ]
}

# --- Terraform state and IAM ------------------------------------------------

data "aws_iam_policy_document" "deploy_state_iam" {
  for_each = var.environments

  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketVersioning", "s3:GetBucketLocation", "s3:GetEncryptionConfiguration", "s3:GetBucketPublicAccessBlock", "s3:GetBucketPolicy"]
    resources = [local.state_arn]
  }

  statement {
    sid       = "OwnStateAndLock"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.state_arn}/${each.key}/terraform.tfstate", "${local.state_arn}/${each.key}/terraform.tfstate.tflock"]
  }

  statement {
    sid       = "ReleaseOwnLock"
    actions   = ["s3:DeleteObject"]
    resources = ["${local.state_arn}/${each.key}/terraform.tfstate.tflock"]
  }

  statement {
    sid = "OwnRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
      "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags",
      "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["${local.iam_arn}:role/${local.prefix[each.key]}-*"]
  }

  statement {
    sid       = "AttachOnlyLambdaVpcAccess"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = ["${local.iam_arn}:role/${local.prefix[each.key]}-*"]

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = ["arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]
    }
  }

  statement {
    sid       = "PassOwnRolesToTasksAndLambda"
    actions   = ["iam:PassRole"]
    resources = ["${local.iam_arn}:role/${local.prefix[each.key]}-*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]
    }
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["${local.iam_arn}:role/aws-service-role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = local.service_linked_roles
    }
  }
}

# --- Network: EC2, by tag (its IDs are random) ------------------------------

data "aws_iam_policy_document" "deploy_network" {
  for_each = var.environments

  # A new VPC, subnet, gateway, route table, security group (rule), address
  # or VPC endpoint must be tagged with this environment as it is created
  # (the provider's default tags do that). One statement per action, so a tag
  # on the new resource never opens an existing one of the same type.
  dynamic "statement" {
    for_each = local.ec2_creates

    content {
      sid       = "Tagged${trimprefix(statement.key, "ec2:")}"
      actions   = [statement.key]
      resources = ["${local.arn.ec2}:${statement.value}/*"]

      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/Environment"
        values   = [each.key]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/Project"
        values   = [var.name]
      }
    }
  }

  statement {
    sid       = "TagOnCreate"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.arn.ec2}:*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = [for action in keys(local.ec2_creates) : trimprefix(action, "ec2:")]
    }
  }

  # AWS creates a VPC's default security group untagged; the network module
  # adopts it (aws_default_security_group) and tags it. Only an untagged
  # group can be claimed this way, never another environment's.
  statement {
    sid       = "AdoptDefaultSecurityGroup"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.arn.ec2}:security-group/*"]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/Environment"
      values   = ["true"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [each.key]
    }
  }

  statement {
    sid = "ChangeOwnNetwork"
    actions = concat(keys(local.ec2_creates), [
      "ec2:ModifyVpcAttribute", "ec2:DeleteVpc",
      "ec2:ModifySubnetAttribute", "ec2:DeleteSubnet",
      "ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:DeleteInternetGateway",
      "ec2:ReleaseAddress", "ec2:DisassociateAddress", "ec2:DeleteNatGateway",
      "ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute", "ec2:DeleteRouteTable",
      "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:ReplaceRouteTableAssociation",
      "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:ModifySecurityGroupRules",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      "ec2:DeleteSecurityGroup", "ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:CreateTags", "ec2:DeleteTags",
    ])
    resources = ["${local.arn.ec2}:*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }

  # ElastiCache Serverless puts its endpoint into the environment's subnets
  # on the caller's behalf (as AWS's AmazonElastiCacheFullAccess allows).
  statement {
    sid       = "ElastiCacheServerlessEndpoint"
    actions   = ["ec2:CreateVpcEndpoint"]
    resources = ["${local.arn.ec2}:vpc-endpoint/*"]

    condition {
      test     = "StringLike"
      variable = "ec2:VpceServiceName"
      values   = ["com.amazonaws.elasticache.serverless.*"]
    }
  }

  statement {
    sid = "ReadNetwork"
    # Describe calls have no resource-level permissions; the prefix list
    # read is CloudFront's AWS-owned list, which has no account to pin.
    actions   = ["ec2:Describe*", "ec2:GetManagedPrefixListEntries"]
    resources = ["*"]
  }
}

# --- Compute: image, ECS, the importer Lambda, autoscaling, service discovery, logs

data "aws_iam_policy_document" "deploy_compute" {
  for_each = var.environments

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the registry token has no resource-level permission
  }

  statement {
    sid = "OwnRepository"
    actions = [
      "ecr:CreateRepository", "ecr:DeleteRepository", "ecr:Describe*", "ecr:List*", "ecr:Get*",
      "ecr:PutLifecyclePolicy", "ecr:DeleteLifecyclePolicy", "ecr:PutImageScanningConfiguration",
      "ecr:PutImageTagMutability", "ecr:TagResource", "ecr:UntagResource",
      "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:BatchDeleteImage",
    ]
    # The application's repository, and those named under it (the tracing
    # collector's copy, <prefix>/otel-collector, that deploy.sh pushes).
    resources = [
      "${local.arn.ecr}:repository/${local.prefix[each.key]}",
      "${local.arn.ecr}:repository/${local.prefix[each.key]}/*",
    ]
  }

  statement {
    sid = "OwnCluster"
    actions = [
      "ecs:CreateCluster", "ecs:DeleteCluster", "ecs:UpdateCluster", "ecs:UpdateClusterSettings",
      "ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService",
      "ecs:Describe*", "ecs:ListTagsForResource", "ecs:TagResource", "ecs:UntagResource",
    ]
    resources = [
      "${local.arn.ecs}:cluster/${local.prefix[each.key]}",
      "${local.arn.ecs}:service/${local.prefix[each.key]}/*",
      "${local.arn.ecs}:task-definition/${local.prefix[each.key]}-*:*",
    ]
  }

  statement {
    sid = "TaskDefinitions"
    # No resource-level permissions on task definition registration; the
    # roles they may name are limited by iam:PassRole.
    actions   = ["ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"]
    resources = ["*"]
  }

  statement {
    sid = "OwnImporter"
    actions = [
      "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:Get*", "lambda:List*",
      "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
      "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
      "lambda:TagResource", "lambda:UntagResource", "lambda:InvokeFunction",
      "lambda:AddPermission", "lambda:RemovePermission",
    ]
    resources = ["${local.arn.lambda}:function:${local.prefix[each.key]}-*"]
  }

  statement {
    sid = "OwnSchedules"
    # The importer's maintain schedule: rules named after the environment.
    actions = [
      "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:ListTargetsByRule",
      "events:PutTargets", "events:RemoveTargets", "events:TagResource", "events:UntagResource",
      "events:ListTagsForResource",
    ]
    resources = ["${local.arn.events}:rule/${local.prefix[each.key]}-*"]
  }

  statement {
    sid = "Autoscaling"
    # Scalable targets have random IDs; the namespace condition keeps the
    # role to ECS services.
    actions = [
      "application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "application-autoscaling:service-namespace"
      values   = ["ecs"]
    }
  }

  statement {
    sid = "ReadAutoscalingAndDiscovery"
    # Describe and list calls, and Cloud Map's operation status, name no resource.
    actions = [
      "application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies",
      "application-autoscaling:DescribeScalingActivities", "servicediscovery:GetOperation",
      "servicediscovery:ListNamespaces", "servicediscovery:ListServices", "servicediscovery:ListOperations",
    ]
    resources = ["*"]
  }

  statement {
    sid = "TargetTagsAndDiscovery"
    actions = [
      "application-autoscaling:TagResource", "application-autoscaling:UntagResource",
      "application-autoscaling:ListTagsForResource", "servicediscovery:GetNamespace",
      "servicediscovery:GetService", "servicediscovery:ListTagsForResource",
    ]
    resources = [
      "${local.arn["application-autoscaling"]}:scalable-target/*",
      "${local.arn.servicediscovery}:namespace/*",
      "${local.arn.servicediscovery}:service/*",
    ] # random IDs
  }

  statement {
    sid       = "CreateDiscoveryNamespace"
    actions   = ["servicediscovery:CreatePrivateDnsNamespace"]
    resources = ["*"] # creating a namespace names no resource yet
  }

  statement {
    sid = "ServiceDiscovery"
    # Cloud Map namespaces and services have random IDs (ns-…, srv-…).
    actions = [
      "servicediscovery:DeleteNamespace", "servicediscovery:CreateService", "servicediscovery:UpdateService",
      "servicediscovery:DeleteService", "servicediscovery:TagResource", "servicediscovery:UntagResource",
    ]
    resources = ["${local.arn.servicediscovery}:namespace/*", "${local.arn.servicediscovery}:service/*"]
  }

  statement {
    sid = "CreatePrivateDnsZone"
    # Cloud Map creates the namespace's private hosted zone with the caller's
    # permission; creating and finding a zone by name name no zone yet.
    actions   = ["route53:CreateHostedZone", "route53:ListHostedZonesByName"]
    resources = ["*"]
  }

  statement {
    sid       = "PrivateDnsZone"
    actions   = ["route53:GetHostedZone", "route53:DeleteHostedZone", "route53:GetChange"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*", "arn:${local.partition}:route53:::change/*"] # random IDs
  }

  dynamic "statement" {
    for_each = length(var.route53_zone_ids) > 0 ? [1] : []

    content {
      sid       = "CustomDomainRecords"
      actions   = ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:GetHostedZone"]
      resources = [for id in var.route53_zone_ids : "arn:${local.partition}:route53:::hostedzone/${id}"]
    }
  }

  statement {
    sid = "OwnLogGroups"
    actions = [
      "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
      "logs:TagResource", "logs:UntagResource", "logs:TagLogGroup", "logs:UntagLogGroup",
      "logs:ListTagsForResource", "logs:ListTagsLogGroup",
    ]
    resources = [
      "${local.arn.logs}:log-group:/ecs/${local.prefix[each.key]}/*",
      "${local.arn.logs}:log-group:/aws/lambda/${local.prefix[each.key]}-*",
      # RDS exports its error and slow query logs here; the stack creates them first.
      "${local.arn.logs}:log-group:/aws/rds/instance/${local.prefix[each.key]}/*",
    ]
  }

  statement {
    sid     = "ReleaseRepositoryKeyGrant"
    actions = ["kms:RetireGrant"]
    # ECR encrypts the repository with the account's AWS-managed key (random
    # ID); deleting the repository retires ECR's grant on it.
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ecr.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReadLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${local.arn.logs}:log-group:*"] # lists groups by prefix: no single group to name
  }
}

# --- Data: MySQL, Redis, secrets, buckets ------------------------------------

data "aws_iam_policy_document" "deploy_data" {
  #checkov:skip=CKV_AWS_356:Only rds:Describe* and elasticache:Describe* are on "*": several of them (engine versions, orderable options) name no resource, and reading metadata of other environments exposes no data.
  for_each = var.environments

  statement {
    sid = "OwnDatabase"
    actions = [
      "rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance", "rds:RebootDBInstance",
      "rds:CreateDBSubnetGroup", "rds:ModifyDBSubnetGroup", "rds:DeleteDBSubnetGroup",
      "rds:CreateDBParameterGroup", "rds:ModifyDBParameterGroup", "rds:DeleteDBParameterGroup",
      "rds:ResetDBParameterGroup", "rds:CreateDBSnapshot",
      "rds:AddTagsToResource", "rds:RemoveTagsFromResource", "rds:ListTagsForResource",
    ]
    resources = [
      "${local.arn.rds}:db:${local.prefix[each.key]}",
      "${local.arn.rds}:subgrp:${local.prefix[each.key]}",
      "${local.arn.rds}:pg:${local.prefix[each.key]}-*",
      "${local.arn.rds}:snapshot:${local.prefix[each.key]}-*",
      "${local.arn.rds}:og:default:*", # CreateDBInstance names the engine's default option group
    ]
  }

  statement {
    sid       = "ReadDatabases"
    actions   = ["rds:Describe*"]
    resources = ["*"] # engine versions and orderable options have no resource
  }

  statement {
    sid = "OwnCache"
    actions = [
      "elasticache:CreateServerlessCache", "elasticache:ModifyServerlessCache", "elasticache:DeleteServerlessCache",
      "elasticache:CreateUser", "elasticache:ModifyUser", "elasticache:DeleteUser",
      "elasticache:CreateUserGroup", "elasticache:ModifyUserGroup", "elasticache:DeleteUserGroup",
      "elasticache:AddTagsToResource", "elasticache:RemoveTagsFromResource", "elasticache:ListTagsForResource",
    ]
    resources = [
      "${local.arn.elasticache}:serverlesscache:${local.prefix[each.key]}",
      "${local.arn.elasticache}:user:${local.prefix[each.key]}-*",
      "${local.arn.elasticache}:usergroup:${local.prefix[each.key]}-*",
    ]
  }

  statement {
    sid       = "ReadCaches"
    actions   = ["elasticache:Describe*"]
    resources = ["*"] # Describe calls list across the account
  }

  statement {
    sid = "OwnSecrets"
    actions = [
      "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret",
      "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecret", "secretsmanager:ListSecretVersionIds", "secretsmanager:GetResourcePolicy",
      "secretsmanager:TagResource", "secretsmanager:UntagResource",
      # A replaced secret version (mysql_app_password_version) gives up its AWSPENDING/AWSPREVIOUS label.
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = ["${local.arn.secretsmanager}:secret:${local.prefix[each.key]}/*"]
  }

  statement {
    sid = "DatabaseManagedSecret"
    # RDS creates the master user's secret with the caller's permission and
    # names it rds!db-<uuid>: no environment in the name to pin.
    actions = [
      "secretsmanager:CreateSecret", "secretsmanager:RotateSecret", "secretsmanager:DescribeSecret",
      "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:TagResource",
    ]
    resources = ["${local.arn.secretsmanager}:secret:rds!*"]
  }

  statement {
    sid       = "RandomPasswords"
    actions   = ["secretsmanager:GetRandomPassword"]
    resources = ["*"] # returns a random string; it touches no resource
  }

  statement {
    sid = "OwnBuckets"
    # The frontend and imports buckets (<name>-<env>-frontend|imports-<account>)
    # and their objects: created, configured, uploaded to, emptied, deleted.
    actions   = ["s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucket*", "s3:PutBucket*", "s3:DeleteBucketPolicy", "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:GetAccelerateConfiguration", "s3:GetReplicationConfiguration", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = ["arn:${local.partition}:s3:::${local.prefix[each.key]}-*"]
  }
}

# --- Edge and alarms: the load balancer, CloudFront and its certificate,
# CloudWatch alarms, SNS

data "aws_iam_policy_document" "deploy_edge_alarm" {
  for_each = var.environments

  statement {
    sid       = "ReadLoadBalancers"
    actions   = ["elasticloadbalancing:Describe*"]
    resources = ["*"] # Describe calls have no resource-level permissions
  }

  statement {
    sid = "OwnLoadBalancer"
    actions = [
      "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets", "elasticloadbalancing:SetIpAddressType",
      "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
    ]
    resources = [
      "${local.arn.elasticloadbalancing}:loadbalancer/app/${local.prefix[each.key]}/*",
      "${local.arn.elasticloadbalancing}:targetgroup/${local.prefix[each.key]}/*",
      "${local.arn.elasticloadbalancing}:listener/app/${local.prefix[each.key]}/*",
      "${local.arn.elasticloadbalancing}:listener-rule/app/${local.prefix[each.key]}/*",
    ]
  }

  statement {
    sid = "Distribution"
    # Distributions and origin access controls have random IDs.
    actions = [
      "cloudfront:CreateDistribution", "cloudfront:CreateDistributionWithTags", "cloudfront:GetDistribution",
      "cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution",
      "cloudfront:CreateInvalidation", "cloudfront:GetInvalidation",
      "cloudfront:CreateOriginAccessControl", "cloudfront:GetOriginAccessControl",
      "cloudfront:UpdateOriginAccessControl", "cloudfront:DeleteOriginAccessControl",
      "cloudfront:TagResource", "cloudfront:UntagResource", "cloudfront:ListTagsForResource",
      "cloudfront:CreateVpcOrigin", "cloudfront:GetVpcOrigin", "cloudfront:UpdateVpcOrigin",
      "cloudfront:DeleteVpcOrigin",
    ]
    resources = [
      "arn:${local.partition}:cloudfront::${local.account}:distribution/*",
      "arn:${local.partition}:cloudfront::${local.account}:origin-access-control/*",
      "arn:${local.partition}:cloudfront::${local.account}:vpcorigin/*",
    ]
  }

  statement {
    sid = "Certificate"
    # Only with a custom domain; ACM certificate IDs are random, in us-east-1.
    actions = [
      "acm:RequestCertificate", "acm:DescribeCertificate", "acm:DeleteCertificate",
      "acm:AddTagsToCertificate", "acm:RemoveTagsFromCertificate", "acm:ListTagsForCertificate",
    ]
    resources = ["arn:${local.partition}:acm:us-east-1:${local.account}:certificate/*"]
  }

  statement {
    sid = "OwnAlarms"
    actions = [
      "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
      "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
    ]
    resources = [
      "${local.arn.cloudwatch}:alarm:${local.prefix[each.key]}-*",
      # Target tracking policies create their own alarms, named after the service.
      "${local.arn.cloudwatch}:alarm:TargetTracking-service/${local.prefix[each.key]}/*",
    ]
  }

  statement {
    sid       = "OwnDashboard"
    actions   = ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"]
    resources = ["arn:${local.partition}:cloudwatch::${local.account}:dashboard/${local.prefix[each.key]}"]
  }

  statement {
    sid = "OwnTopic"
    actions = [
      "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
      "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes",
      "sns:ListSubscriptionsByTopic", "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource",
    ]
    resources = ["${local.arn.sns}:${local.prefix[each.key]}-*"]
  }
}

# --- The alarm topic's KMS key and the CloudFront web ACL ---------------------

data "aws_iam_policy_document" "deploy_key_waf" {
  for_each = var.environments

  statement {
    sid = "CreateTaggedKey"
    # Key IDs are random: a new key must carry this environment's tag.
    actions   = ["kms:CreateKey", "kms:TagResource"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [each.key]
    }
  }

  statement {
    sid = "OwnKeys"
    actions = [
      "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
      "kms:EnableKeyRotation", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
      "kms:ScheduleKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias",
    ]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "OwnKeyAliases"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account}:alias/${local.prefix[each.key]}-*"]
  }

  statement {
    sid       = "ListAliases"
    actions   = ["kms:ListAliases"]
    resources = ["*"] # no resource-level permissions
  }

  statement {
    sid = "OwnWebAcl"
    # CLOUDFRONT-scoped web ACLs live in us-east-1; their IDs are random.
    actions = [
      "wafv2:CreateWebACL", "wafv2:GetWebACL", "wafv2:UpdateWebACL", "wafv2:DeleteWebACL",
      "wafv2:TagResource", "wafv2:UntagResource", "wafv2:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:wafv2:us-east-1:${local.account}:global/webacl/${local.prefix[each.key]}/*"]
  }

  statement {
    sid = "UseManagedRuleGroups"
    # A web ACL that references an AWS managed rule group needs the call on it too.
    actions   = ["wafv2:CreateWebACL", "wafv2:UpdateWebACL"]
    resources = ["arn:${local.partition}:wafv2:us-east-1:${local.account}:global/managedruleset/*/*"]
  }
}

# --- Plan role: read the state of every environment and what a plan without
# refresh reads (data sources). Pull request code runs with this role, so it
# reads nothing the state does not already hold: no app bucket objects, no
# secret at all (the Redis user has no password: IAM authentication).

data "aws_iam_policy_document" "plan" {
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketVersioning", "s3:GetBucketLocation", "s3:GetEncryptionConfiguration", "s3:GetBucketPublicAccessBlock", "s3:GetBucketPolicy"]
    resources = [local.state_arn]
  }

  statement {
    sid       = "ReadEveryState"
    actions   = ["s3:GetObject"]
    resources = [for env in var.environments : "${local.state_arn}/${env}/terraform.tfstate"]
  }

  statement {
    sid = "DataSources"
    # Availability zones, CloudFront's AWS-owned prefix list and its VPC
    # origin security group (modules/alb): Terraform reads data sources even
    # under -refresh=false (hashicorp/terraform issue 26353). Describe calls
    # have no resource-level permissions.
    actions   = ["ec2:DescribeAvailabilityZones", "ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries", "ec2:DescribeSecurityGroups"]
    resources = ["*"]
  }

  statement {
    sid       = "RandomPasswords"
    actions   = ["secretsmanager:GetRandomPassword"]
    resources = ["*"] # ephemeral passwords are opened in a plan; the call touches no resource
  }
}
