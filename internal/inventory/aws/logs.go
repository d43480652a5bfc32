package aws

func logsListers() []lister { return nil }
