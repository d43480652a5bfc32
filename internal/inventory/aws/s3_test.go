package aws

func s3Fixtures() []fixture { return nil }
