package aws

func kmsFixtures() []fixture { return nil }
