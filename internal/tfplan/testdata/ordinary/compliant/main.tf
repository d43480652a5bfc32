# A compliant estate written the ordinary way: references between resources,
# policies built with jsonencode() from ARNs, a local module called once and
# with for_each. Every built-in rule it meets must pass or, where the
# verdict depends on a value known only after apply, be not evaluated:
# never a violation.

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

resource "aws_ebs_encryption_by_default" "this" {
  enabled = true
}

resource "aws_iam_account_password_policy" "strict" {
  minimum_password_length        = 14
  password_reuse_prevention      = 24
  max_password_age               = 90
  require_symbols                = true
  require_numbers                = true
  require_uppercase_characters   = true
  require_lowercase_characters   = true
  allow_users_to_change_password = true
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

# Buckets declared with for_each in the root module, their blocks paired
# by each.key.
resource "aws_s3_bucket" "exports" {
  for_each = toset(["daily", "monthly"])
  bucket   = "ordinary-exports-${each.key}"
}

resource "aws_s3_bucket_public_access_block" "exports" {
  for_each                = toset(["daily", "monthly"])
  bucket                  = aws_s3_bucket.exports[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_cloudwatch_log_group" "trail" {
  name              = "ordinary-trail"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_iam_role" "trail" {
  name = "ordinary-trail"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "cloudtrail.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "trail" {
  name = "ordinary-trail-logs"
  role = aws_iam_role.trail.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.trail.arn}:*"
    }]
  })
}

resource "aws_cloudtrail" "main" {
  name                       = "ordinary"
  s3_bucket_name             = module.logs.id
  kms_key_id                 = aws_kms_key.main.arn
  is_multi_region_trail      = true
  enable_log_file_validation = true
  cloud_watch_logs_group_arn = "${aws_cloudwatch_log_group.trail.arn}:*"
  cloud_watch_logs_role_arn  = aws_iam_role.trail.arn
}

resource "aws_vpc" "main" {
  cidr_block = "10.60.0.0/16"
}

resource "aws_flow_log" "main" {
  vpc_id               = aws_vpc.main.id
  traffic_type         = "ALL"
  log_destination_type = "s3"
  log_destination      = module.logs.arn
}

resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "private" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = cidrsubnet(aws_vpc.main.cidr_block, 8, 1)
  map_public_ip_on_launch = false
}

resource "aws_security_group" "web" {
  name   = "ordinary-web"
  vpc_id = aws_vpc.main.id

  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [aws_vpc.main.cidr_block]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_instance" "app" {
  ami                         = "ami-12c6146b"
  instance_type               = "t3.micro"
  subnet_id                   = aws_subnet.private.id
  vpc_security_group_ids      = [aws_security_group.web.id]
  associate_public_ip_address = false

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }
}

resource "aws_ebs_volume" "data" {
  availability_zone = aws_subnet.private.availability_zone
  size              = 20
  encrypted         = true
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_sqs_queue" "jobs" {
  name              = "ordinary-jobs"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic" "alerts" {
  name              = "ordinary-alerts"
  kms_master_key_id = aws_kms_key.main.id
}

resource "aws_dynamodb_table" "orders" {
  name         = "ordinary-orders"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.main.arn
  }
}

resource "aws_db_instance" "orders" {
  identifier                 = "ordinary-orders"
  engine                     = "postgres"
  instance_class             = "db.t3.micro"
  allocated_storage          = 20
  username                   = "plumb"
  password                   = "not-a-secret-1"
  storage_encrypted          = true
  kms_key_id                 = aws_kms_key.main.arn
  publicly_accessible        = false
  auto_minor_version_upgrade = true
  skip_final_snapshot        = true
}

resource "aws_iam_policy" "read_data" {
  name = "ordinary-read-data"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${module.data["raw"].arn}/*"]
    }]
  })
}
