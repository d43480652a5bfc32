package codify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/state"
)

// stateView is what codify needs from the root module's state: which
// objects are already managed (by import id) and the ids and ARNs that
// generated code can refer to.
type stateView struct {
	instances  []stateInstance
	byImportID map[string]string
}

type stateInstance struct {
	address    string
	resource   string // TYPE.NAME without index
	rootModule bool
	id, arn    string
}

// readState pulls the state of the scratch copy (which reads the real
// backend: nothing is written) and indexes it.
func readState(ctx context.Context, tf *runner, dir string) (*stateView, error) {
	out, err := tf.run(ctx, dir, "state", "pull")
	if err != nil {
		return nil, fmt.Errorf("read the root module's state: %w", err)
	}
	v := &stateView{byImportID: map[string]string{}}
	if len(bytes.TrimSpace(out)) == 0 {
		return v, nil
	}
	desired, err := state.Parse("terraform state pull", out)
	if err != nil && !errors.Is(err, state.ErrNoResources) {
		return nil, fmt.Errorf("read the root module's state: %w", err)
	}
	mapper := awsinv.NewMapper()
	for _, d := range desired {
		if d.Mode != "" && d.Mode != "managed" || d.Deposed != "" {
			continue
		}
		in := stateInstance{address: d.Address, rootModule: !strings.HasPrefix(d.Address, "module.")}
		if addr, err := parseAddress(d.Address); err == nil {
			in.resource = addr.resource()
		}
		in.id, _ = d.Raw["id"].(string)
		in.arn, _ = d.Raw["arn"].(string)
		v.instances = append(v.instances, in)
		importID := in.id
		if r, ok := mapper.FromState(d.Type, d.Raw); ok && r.ID != "" {
			v.byImportID[r.Type+"\x00"+r.ID] = d.Address
		}
		if importID != "" {
			v.byImportID[d.Type+"\x00"+importID] = d.Address
		}
	}
	return v, nil
}
