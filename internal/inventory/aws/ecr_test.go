package aws

func ecrFixtures() []fixture { return nil }
