package aws

func route53Fixtures() []fixture { return nil }
