package aws

func rdsListers() []lister { return nil }
