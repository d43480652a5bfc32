package aws

func lambdaListers() []lister { return nil }
