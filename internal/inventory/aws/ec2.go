package aws

func ec2Listers() []lister { return nil }

// foldListers lists child types folded into a parent.
func foldListers() []folder { return nil }
