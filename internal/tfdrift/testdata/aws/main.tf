# A small AWS estate for tfdrift tests, applied with the real AWS provider
# 5.100 against moto_server. default_tags makes tags_all differ from tags.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint" {
  type = string
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
  endpoints {
    ec2            = var.endpoint
    sts            = var.endpoint
    cloudwatchlogs = var.endpoint
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
    Name = "tfdrift"
    env  = "test"
  }
}

resource "aws_security_group" "web" {
  name        = "tfdrift-web"
  description = "web tier"
  vpc_id      = aws_vpc.main.id

  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/tfdrift/app"
  retention_in_days = 30
}
