package aws

func snsListers() []lister { return nil }
