# An EBS volume that is not encrypted.

resource "aws_ebs_volume" "data" {
  availability_zone = "us-east-1a"
  size              = 8
  encrypted         = false
}
