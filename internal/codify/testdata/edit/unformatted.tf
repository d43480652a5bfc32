resource "aws_s3_bucket" "reports" {
    bucket = "reports"
    tags = {
        Team="data"   # owner
        Env = "prod"
    }
}
