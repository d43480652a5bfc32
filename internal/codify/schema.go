package codify

import (
	"encoding/json"
	"fmt"
)

// schemaBlock is the part of a provider's resource schema (as
// `terraform providers schema -json` prints it) that cleaning needs:
// which arguments are required, optional or computed, and the nested
// blocks.
type schemaBlock struct {
	Attributes map[string]schemaAttribute `json:"attributes"`
	BlockTypes map[string]struct {
		NestingMode string      `json:"nesting_mode"`
		Block       schemaBlock `json:"block"`
		MinItems    int         `json:"min_items"`
	} `json:"block_types"`
}

type schemaAttribute struct {
	Required  bool `json:"required"`
	Optional  bool `json:"optional"`
	Computed  bool `json:"computed"`
	Sensitive bool `json:"sensitive"`
}

// schemas maps a resource type to its schema.
type schemas map[string]*schemaBlock

// parseSchemas reads the resource schemas of the given types from the
// output of `terraform providers schema -json`. Types no provider of the
// root module knows are left out; the caller reports them.
func parseSchemas(data []byte, types []string) (schemas, error) {
	var doc struct {
		ProviderSchemas map[string]struct {
			ResourceSchemas map[string]json.RawMessage `json:"resource_schemas"`
		} `json:"provider_schemas"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("read terraform providers schema -json: %w", err)
	}
	out := schemas{}
	for _, t := range types {
		for _, p := range doc.ProviderSchemas {
			raw, ok := p.ResourceSchemas[t]
			if !ok {
				continue
			}
			var rs struct {
				Block schemaBlock `json:"block"`
			}
			if err := json.Unmarshal(raw, &rs); err != nil {
				return nil, fmt.Errorf("read the schema of %s: %w", t, err)
			}
			out[t] = &rs.Block
			break
		}
	}
	return out, nil
}
