package aws

func s3Listers() []lister { return nil }
