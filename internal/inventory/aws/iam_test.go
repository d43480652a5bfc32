package aws

func iamFixtures() []fixture { return nil }
