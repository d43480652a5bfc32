package aws

func logsFixtures() []fixture { return nil }
