package aws

func sqsListers() []lister { return nil }
