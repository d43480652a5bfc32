# A small estate for the plumb demo and end-to-end tests. It is applied
# with the real AWS provider against moto_server on 127.0.0.1.

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
  s3_use_path_style           = true

  endpoints {
    ec2                      = var.endpoint
    s3                       = var.endpoint
    iam                      = var.endpoint
    sts                      = var.endpoint
    sqs                      = var.endpoint
    sns                      = var.endpoint
    dynamodb                 = var.endpoint
    kms                      = var.endpoint
    ecr                      = var.endpoint
    cloudwatchlogs           = var.endpoint
    route53                  = var.endpoint
    resourcegroupstaggingapi = var.endpoint
  }

  default_tags {
    tags = {
      managed-by = "terraform"
    }
  }
}

resource "aws_vpc" "main" {
  cidr_block = "10.42.0.0/16"
  tags = {
    Name = "plumb-demo"
    env  = "demo"
  }
}

resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.42.1.0/24"
  availability_zone = "us-east-1a"
  tags = {
    Name = "plumb-demo-a"
  }
}

resource "aws_internet_gateway" "gw" {
  vpc_id = aws_vpc.main.id
  tags = {
    Name = "plumb-demo"
  }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  tags = {
    Name = "plumb-demo-public"
  }
}

resource "aws_security_group" "web" {
  name        = "plumb-demo-web"
  description = "web tier"
  vpc_id      = aws_vpc.main.id

  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = {
    Name = "plumb-demo-web"
  }
}

# A rule declared apart from its group: part of the group, never unmanaged.
resource "aws_security_group_rule" "ssh_internal" {
  type              = "ingress"
  from_port         = 22
  to_port           = 22
  protocol          = "tcp"
  cidr_blocks       = ["10.0.0.0/8"]
  security_group_id = aws_security_group.web.id
}

resource "aws_s3_bucket" "assets" {
  bucket = "plumb-demo-assets"
  tags = {
    env = "demo"
  }
}

resource "aws_sqs_queue" "jobs" {
  name = "plumb-demo-jobs"
  tags = {
    team = "core"
  }
}

resource "aws_sns_topic" "alerts" {
  name = "plumb-demo-alerts"
}

resource "aws_dynamodb_table" "locks" {
  name         = "plumb-demo-locks"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_iam_role" "app" {
  name = "plumb-demo-app"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ec2.amazonaws.com" }
    }]
  })
}

resource "aws_iam_policy" "read" {
  name = "plumb-demo-read"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = "${aws_s3_bucket.assets.arn}/*"
    }]
  })
}

resource "aws_iam_instance_profile" "app" {
  name = "plumb-demo-app"
  role = aws_iam_role.app.name
}

resource "aws_iam_user" "deploy" {
  name = "plumb-demo-deploy"
}

resource "aws_iam_group" "ops" {
  name = "plumb-demo-ops"
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/plumb/demo"
  retention_in_days = 30
}

resource "aws_kms_key" "data" {
  description             = "plumb demo data key"
  deletion_window_in_days = 7
}

resource "aws_ecr_repository" "app" {
  name = "plumb-demo-app"
}

resource "aws_route53_zone" "internal" {
  name = "plumb-demo.internal"
}
