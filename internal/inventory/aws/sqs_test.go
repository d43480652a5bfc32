package aws

func sqsFixtures() []fixture { return nil }
