package codify

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parsedAddress is a Terraform resource instance address split into the
// parts codify checks before editing code.
type parsedAddress struct {
	// module is the module path ("module.net" or "module.a.module.b"),
	// empty for the root module.
	module string
	// data marks a data source.
	data      bool
	typ, name string
	// indexed marks an instance of a count or for_each resource.
	indexed bool
}

func (a parsedAddress) resource() string { return a.typ + "." + a.name }

// parseAddress reads addresses such as aws_s3_bucket.logs,
// module.net.aws_vpc.main or aws_subnet.private["a"].
func parseAddress(s string) (parsedAddress, error) {
	tr, diags := hclsyntax.ParseTraversalAbs([]byte(s), "address", hcl.InitialPos)
	if diags.HasErrors() {
		return parsedAddress{}, fmt.Errorf("address %q: %s", s, diags.Error())
	}
	var parts []string
	var a parsedAddress
	for _, step := range tr {
		switch st := step.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, st.Name)
		case hcl.TraverseAttr:
			parts = append(parts, st.Name)
		case hcl.TraverseIndex:
			// An index after a module name indexes the module call; after
			// the resource name, the instance.
			if len(parts) >= 2 && parts[len(parts)-2] == "module" {
				continue
			}
			a.indexed = true
		}
	}
	var mod []string
	for len(parts) >= 2 && parts[0] == "module" {
		mod = append(mod, "module."+parts[1])
		parts = parts[2:]
	}
	a.module = strings.Join(mod, ".")
	if len(parts) == 3 && parts[0] == "data" {
		a.data = true
		parts = parts[1:]
	}
	if len(parts) != 2 {
		return parsedAddress{}, fmt.Errorf("address %q: not a resource address", s)
	}
	a.typ, a.name = parts[0], parts[1]
	return a, nil
}
