# Storage for the reporting service.
resource "aws_s3_bucket" "reports" {
  bucket = "reports" # never rename: consumers hard-code it

  tags = {
    Team = "data"
    Env  = "prod"
  }
}

// Queue fed by the exporter.
resource "aws_sqs_queue" "exports" {
  name                       = "exports"
  visibility_timeout_seconds = 30
}

resource "aws_sqs_queue" "plain" {}

resource "aws_s3_bucket" "merged" {
  bucket = "merged"
  tags = merge(var.common_tags, {
    Name = "merged"
  })
}

resource "aws_s3_bucket" "from_var" {
  bucket = "from-var"
  tags   = var.tags
}

resource "aws_s3_bucket" "value_from_local" {
  bucket = "value-from-local"
  tags = {
    Owner = local.owner
  }
}

resource "aws_sqs_queue" "from_local" {
  name                      = "from-local"
  message_retention_seconds = local.retention
}

# The old archive, gone since the migration.
resource "aws_s3_bucket" "archive" {
  bucket = "archive"
}

resource "aws_s3_bucket" "inline" {
  bucket = "inline"
  tags   = { Team = "web", Env = "dev" }
}
