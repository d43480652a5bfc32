package aws

func lambdaFixtures() []fixture { return nil }
