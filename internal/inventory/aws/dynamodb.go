package aws

func dynamodbListers() []lister { return nil }
