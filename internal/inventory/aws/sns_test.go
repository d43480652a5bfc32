package aws

func snsFixtures() []fixture { return nil }
