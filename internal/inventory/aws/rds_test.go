package aws

func rdsFixtures() []fixture { return nil }
