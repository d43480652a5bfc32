terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

# The network every service of this estate lives in.
resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
  tags = {
    Name = "codify-main"
  }
}

resource "aws_subnet" "a" {
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.0.1.0/24"
}

# Data bucket: keep its tags in step with the service catalogue.
resource "aws_s3_bucket" "data" {
  bucket = "codify-data"

  tags = {
    Team = "storage" # the owning team
    Tier = "gold"
  }
}

# Old work queue; its consumers moved to jobs.
resource "aws_sqs_queue" "old" {
  name = "codify-old"
}
