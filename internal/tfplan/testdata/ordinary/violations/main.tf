# The same estate with planted violations, written the same ordinary way.
# Every planted violation (one per resource named "bad_*" or in the
# comment next to it) must be found, and nothing else may be flagged.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint" {
  description = "moto_server URL, e.g. http://127.0.0.1:5000"
  type        = string
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true

  endpoints {
    accessanalyzer = var.endpoint
    cloudtrail     = var.endpoint
    cloudwatch     = var.endpoint
    cloudwatchlogs = var.endpoint
    configservice  = var.endpoint
    dynamodb       = var.endpoint
    ec2            = var.endpoint
    iam            = var.endpoint
    kms            = var.endpoint
    macie2         = var.endpoint
    rds            = var.endpoint
    s3             = var.endpoint
    s3control      = var.endpoint
    securityhub    = var.endpoint
    sns            = var.endpoint
    sqs            = var.endpoint
    sts            = var.endpoint
  }

  default_tags {
    tags = {
      owner               = "payments"
      environment         = "prod"
      data-classification = "confidential"
    }
  }
}

# The same account in a second region.
provider "aws" {
  alias                       = "eu"
  region                      = "eu-west-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true

  endpoints {
    accessanalyzer = var.endpoint
    cloudtrail     = var.endpoint
    cloudwatch     = var.endpoint
    cloudwatchlogs = var.endpoint
    configservice  = var.endpoint
    dynamodb       = var.endpoint
    ec2            = var.endpoint
    iam            = var.endpoint
    kms            = var.endpoint
    macie2         = var.endpoint
    rds            = var.endpoint
    s3             = var.endpoint
    s3control      = var.endpoint
    securityhub    = var.endpoint
    sns            = var.endpoint
    sqs            = var.endpoint
    sts            = var.endpoint
  }

  default_tags {
    tags = {
      owner               = "payments"
      environment         = "prod"
      data-classification = "confidential"
    }
  }
}

resource "aws_kms_key" "main" {
  description         = "estate key"
  enable_key_rotation = true
}

# Planted: aws-kms-key-rotation.
resource "aws_kms_key" "bad_no_rotation" {
  description         = "forgotten"
  enable_key_rotation = false
}

# Planted: aws-iam-password-min-length, aws-iam-password-reuse,
# aws-iam-password-complexity, aws-iam-password-max-age.
resource "aws_iam_account_password_policy" "bad_weak" {
  minimum_password_length = 8
  require_numbers         = true
}

module "logs" {
  source      = "../modules/secure-bucket"
  name        = "ordinary-trail-logs"
  kms_key_arn = aws_kms_key.main.arn
}

module "data" {
  source      = "../modules/secure-bucket"
  for_each    = toset(["raw", "curated"])
  name        = "ordinary-data-${each.key}"
  kms_key_arn = aws_kms_key.main.arn
}

# Planted: aws-s3-bucket-has-public-access-block (no block of its own, no
# account-level block).
resource "aws_s3_bucket" "bad_orphan" {
  bucket = "ordinary-orphan"
}

resource "aws_s3_bucket_versioning" "bad_orphan" {
  bucket = aws_s3_bucket.bad_orphan.id
  mfa    = "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"
  versioning_configuration {
    status     = "Enabled"
    mfa_delete = "Enabled"
  }
}

# Planted: aws-s3-public-access-block (public policies allowed).
resource "aws_s3_bucket" "partial" {
  bucket = "ordinary-partial"
}

resource "aws_s3_bucket_versioning" "partial" {
  bucket = aws_s3_bucket.partial.id
  mfa    = "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"
  versioning_configuration {
    status     = "Enabled"
    mfa_delete = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "bad_partial" {
  bucket                  = aws_s3_bucket.partial.id
  block_public_acls       = true
  block_public_policy     = false
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Planted: aws-s3-bucket-deny-http (a literal policy without the TLS deny).
resource "aws_s3_bucket_policy" "bad_http" {
  bucket = aws_s3_bucket.partial.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::123456789012:root" }
      Action    = "s3:GetObject"
      Resource  = "arn:aws:s3:::ordinary-partial/*"
    }]
  })
}

resource "aws_cloudwatch_log_group" "trail" {
  name              = "ordinary-trail"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.main.arn
}

# Planted: aws-cloudwatch-log-retention.
resource "aws_cloudwatch_log_group" "bad_short" {
  name              = "ordinary-short"
  retention_in_days = 30
  kms_key_id        = aws_kms_key.main.arn
}

# Planted: aws-cloudtrail-multi-region.
resource "aws_cloudtrail" "bad_single_region" {
  name                       = "ordinary"
  s3_bucket_name             = module.logs.id
  kms_key_id                 = aws_kms_key.main.arn
  is_multi_region_trail      = false
  enable_log_file_validation = true
  cloud_watch_logs_group_arn = "${aws_cloudwatch_log_group.trail.arn}:*"
}

resource "aws_vpc" "main" {
  cidr_block = "10.60.0.0/16"
}

# Planted: aws-flow-log-all-traffic.
resource "aws_flow_log" "bad_accept_only" {
  vpc_id               = aws_vpc.main.id
  traffic_type         = "ACCEPT"
  log_destination_type = "s3"
  log_destination      = module.logs.arn
}

# Planted: aws-vpc-flow-logs-enabled.
resource "aws_vpc" "bad_unlogged" {
  cidr_block = "10.61.0.0/16"
}

# Planted: aws-sg-ssh-open-ipv4.
resource "aws_security_group" "bad_ssh" {
  name   = "ordinary-ssh"
  vpc_id = aws_vpc.main.id

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_subnet" "private" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = cidrsubnet(aws_vpc.main.cidr_block, 8, 1)
  map_public_ip_on_launch = false
}

# Planted: aws-ec2-imdsv2.
resource "aws_instance" "bad_imdsv1" {
  ami                         = "ami-12c6146b"
  instance_type               = "t3.micro"
  subnet_id                   = aws_subnet.private.id
  associate_public_ip_address = false

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "optional"
  }
}

# Planted: aws-ebs-volume-encrypted.
resource "aws_ebs_volume" "bad_plain" {
  availability_zone = aws_subnet.private.availability_zone
  size              = 20
  encrypted         = false
}

# Planted: aws-sqs-encrypted.
resource "aws_sqs_queue" "bad_plain" {
  name                    = "ordinary-plain"
  sqs_managed_sse_enabled = false
}

# Planted: aws-sns-encrypted.
resource "aws_sns_topic" "bad_plain" {
  name = "ordinary-plain"
}

# Planted: aws-rds-not-public.
resource "aws_db_instance" "bad_public" {
  identifier                 = "ordinary-public"
  engine                     = "postgres"
  instance_class             = "db.t3.micro"
  allocated_storage          = 20
  username                   = "plumb"
  password                   = "not-a-secret-1"
  storage_encrypted          = true
  kms_key_id                 = aws_kms_key.main.arn
  publicly_accessible        = true
  auto_minor_version_upgrade = true
  skip_final_snapshot        = true
}

# Planted: aws-iam-no-star-star-policy.
resource "aws_iam_policy" "bad_admin" {
  name = "ordinary-admin"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }]
  })
}

resource "aws_iam_user" "alice" {
  name = "alice"
}

# Planted: aws-iam-no-user-inline-policy.
resource "aws_iam_user_policy" "bad_inline" {
  name = "extra"
  user = aws_iam_user.alice.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:ListBucket", Resource = "*" }]
  })
}

# --- CIS 3.0 controls added with the account baseline --------------------
# Checked with --account-baseline: this configuration manages the account.

# The trail's bucket of the logs module logs its access; this one, written
# to by the multi-region trail below, does not.
resource "aws_s3_bucket_logging" "logs" {
  bucket        = module.logs.id
  target_bucket = aws_s3_bucket.partial.id
  target_prefix = "logs/"
}

# Planted: aws-cloudtrail-bucket-access-logging.
resource "aws_s3_bucket" "bad_trail_bucket" {
  bucket = "ordinary-trail-unlogged"
}

resource "aws_s3_bucket_public_access_block" "bad_trail_bucket" {
  bucket                  = aws_s3_bucket.bad_trail_bucket.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "bad_trail_bucket" {
  bucket = aws_s3_bucket.bad_trail_bucket.id
  mfa    = "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"
  versioning_configuration {
    status     = "Enabled"
    mfa_delete = "Enabled"
  }
}

# Planted: aws-s3-mfa-delete (versioning without MFA delete).
resource "aws_s3_bucket" "bad_no_mfa_delete" {
  bucket = "ordinary-no-mfa-delete"
}

resource "aws_s3_bucket_public_access_block" "bad_no_mfa_delete" {
  bucket                  = aws_s3_bucket.bad_no_mfa_delete.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "bad_no_mfa_delete" {
  bucket = aws_s3_bucket.bad_no_mfa_delete.id
  versioning_configuration {
    status = "Enabled"
  }
}

# Planted on plumb_aws_account.this: aws-cloudtrail-s3-object-writes and
# aws-cloudtrail-s3-object-reads (no trail logs S3 data events).
# Planted: aws-cis-metric-root-usage (its filter is and-ed away) and
# aws-cis-metric-organizations-changes (no filter).
resource "aws_cloudtrail" "bad_unmonitored" {
  name                       = "ordinary-all-regions"
  s3_bucket_name             = aws_s3_bucket.bad_trail_bucket.id
  kms_key_id                 = aws_kms_key.main.arn
  is_multi_region_trail      = true
  enable_log_file_validation = true
  cloud_watch_logs_group_arn = "${aws_cloudwatch_log_group.trail.arn}:*"
}

locals {
  cis_filters = {
    unauthorized-api-calls = "{ ($.errorCode = \"*UnauthorizedOperation\") || ($.errorCode = \"AccessDenied*\") }"
    console-no-mfa         = "{ ($.eventName = \"ConsoleLogin\") && ($.additionalEventData.MFAUsed != \"Yes\") }"
    root-usage             = "{ $.userIdentity.type = \"Root\" && $.userIdentity.type = \"IAMUser\" }"
    iam-policy-changes     = "{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=DetachGroupPolicy)}"
    cloudtrail-changes     = "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }"
    console-auth-failures  = "{ ($.eventName = ConsoleLogin) && ($.errorMessage = \"Failed authentication\") }"
    cmk-disable-delete     = "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }"
    s3-policy-changes      = "{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication)) }"
    config-changes         = "{ ($.eventSource = config.amazonaws.com) && (($.eventName = StopConfigurationRecorder) || ($.eventName = DeleteDeliveryChannel) || ($.eventName = PutDeliveryChannel) || ($.eventName = PutConfigurationRecorder)) }"
    security-group-changes = "{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }"
    nacl-changes           = "{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }"
    gateway-changes        = "{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }"
    route-table-changes    = "{ ($.eventSource = ec2.amazonaws.com) && (($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable)) }"
    vpc-changes            = "{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }"
  }
}

resource "aws_cloudwatch_log_metric_filter" "cis" {
  for_each       = local.cis_filters
  name           = "cis-${each.key}"
  pattern        = each.value
  log_group_name = aws_cloudwatch_log_group.trail.name

  metric_transformation {
    name      = "cis-${each.key}"
    namespace = "CISBenchmark"
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "cis" {
  for_each            = aws_cloudwatch_log_metric_filter.cis
  alarm_name          = each.value.name
  metric_name         = each.value.metric_transformation[0].name
  namespace           = each.value.metric_transformation[0].namespace
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

resource "aws_sns_topic" "alerts" {
  name              = "ordinary-alerts"
  kms_master_key_id = aws_kms_key.main.id
}

resource "aws_sns_topic_subscription" "security" {
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = "security@example.com"
}

# Planted on plumb_aws_region.eu-west-1: aws-access-analyzer-enabled,
# aws-macie-enabled (paused) and aws-securityhub-enabled: the baseline
# covers us-east-1 only. Planted on plumb_aws_account.this:
# aws-iam-support-role (AWSSupportAccess is attached to a user only),
# which is also aws-iam-no-user-policy-attachment on support_users.
resource "aws_accessanalyzer_analyzer" "us" {
  analyzer_name = "ordinary"
}

resource "aws_macie2_account" "us" {}

resource "aws_macie2_account" "eu" {
  provider = aws.eu
  status   = "PAUSED"
}

resource "aws_securityhub_account" "us" {}

resource "aws_iam_policy_attachment" "support_users" {
  name       = "ordinary-support"
  users      = [aws_iam_user.alice.name]
  policy_arn = "arn:aws:iam::aws:policy/AWSSupportAccess"
}

resource "aws_iam_role" "ops" {
  name = "ordinary-ops"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# Planted: aws-iam-no-cloudshell-full-access.
resource "aws_iam_role_policy_attachment" "bad_cloudshell" {
  role       = aws_iam_role.ops.name
  policy_arn = "arn:aws:iam::aws:policy/AWSCloudShellFullAccess"
}

# Planted: aws-iam-no-user-policy-attachment.
resource "aws_iam_user_policy_attachment" "bad_user_attach" {
  user       = aws_iam_user.alice.name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}

# Planted: aws-nacl-admin-ports-open.
resource "aws_network_acl" "bad_ssh_open" {
  vpc_id = aws_vpc.main.id

  ingress {
    rule_no    = 100
    action     = "allow"
    protocol   = "tcp"
    cidr_block = "0.0.0.0/0"
    from_port  = 22
    to_port    = 22
  }
}

# Planted: aws-nacl-rule-admin-ports-open.
resource "aws_network_acl_rule" "bad_rdp_open" {
  network_acl_id = aws_network_acl.bad_ssh_open.id
  rule_number    = 120
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 3389
  to_port        = 3389
}

resource "aws_vpc" "shared" {
  cidr_block = "10.70.0.0/16"
}

resource "aws_flow_log" "shared" {
  vpc_id               = aws_vpc.shared.id
  traffic_type         = "ALL"
  log_destination_type = "s3"
  log_destination      = module.logs.arn
}

resource "aws_vpc_peering_connection" "shared" {
  vpc_id      = aws_vpc.main.id
  peer_vpc_id = aws_vpc.shared.id
  auto_accept = true
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id
}

# Planted: aws-peering-route-least-access (the whole peer VPC).
resource "aws_route" "bad_whole_peer" {
  route_table_id            = aws_route_table.private.id
  destination_cidr_block    = aws_vpc.shared.cidr_block
  vpc_peering_connection_id = aws_vpc_peering_connection.shared.id
}

# Planted: aws-iam-user-one-active-key (two active keys), and
# aws-account-security-contact on the account: only a billing contact.
resource "aws_iam_user" "bad_two_keys" {
  name = "ordinary-two-keys"
}

resource "aws_iam_access_key" "first" {
  user = aws_iam_user.bad_two_keys.name
}

resource "aws_iam_access_key" "second" {
  user = aws_iam_user.bad_two_keys.name
}

resource "aws_account_alternate_contact" "billing" {
  alternate_contact_type = "BILLING"
  name                   = "Finance"
  title                  = "Billing"
  email_address          = "billing@example.com"
  phone_number           = "+4930123456"
}
