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
    cloudtrail     = var.endpoint
    cloudwatchlogs = var.endpoint
    configservice  = var.endpoint
    dynamodb       = var.endpoint
    ec2            = var.endpoint
    iam            = var.endpoint
    kms            = var.endpoint
    rds            = var.endpoint
    s3             = var.endpoint
    s3control      = var.endpoint
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

# Planted: aws-s3-public-access-block (public policies allowed).
resource "aws_s3_bucket" "partial" {
  bucket = "ordinary-partial"
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
