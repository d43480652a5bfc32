package aws

func dynamodbFixtures() []fixture { return nil }
