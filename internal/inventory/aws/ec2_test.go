package aws

func ec2Fixtures() []fixture { return nil }
