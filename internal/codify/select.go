package codify

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/model"
)

// Selection is the chosen set of findings: every finding matching all
// given filters. Empty filters match everything.
type Selection struct {
	// Fingerprints are whole fingerprints or unambiguous prefixes of at
	// least minPrefix characters (--finding).
	Fingerprints []string
	// Types are Terraform resource types (--type).
	Types []string
	// Kinds are finding kinds (--kind); empty means drift.unmanaged and
	// drift.changed, plus drift.missing with AcceptMissing.
	Kinds []model.Kind
	// AcceptMissing allows drift.missing findings, which codify answers
	// by removing the resource from code and state (--accept-missing).
	AcceptMissing bool
}

// minPrefix is the shortest fingerprint prefix --finding accepts.
const minPrefix = 8

// Kinds codify acts on.
var codifiable = []model.Kind{model.KindUnmanaged, model.KindChanged, model.KindMissing}

// SupportedTypes are the resource types codify adopts: the AWS types
// plumb's inventory lists, whose finding ids are Terraform import ids.
func SupportedTypes() []string {
	var out []string
	for _, t := range awsinv.NewMapper().Types() {
		out = append(out, t.Name)
	}
	sort.Strings(out)
	return out
}

// Select applies the selection to findings. It refuses, naming them,
// findings of kinds or types codify cannot act on, rather than quietly
// leaving them out, and fingerprints that match no finding.
func Select(fs []model.Finding, sel Selection, source string) ([]model.Finding, error) {
	for _, k := range sel.Kinds {
		if !slices.Contains(codifiable, k) {
			return nil, fmt.Errorf("--kind %s: codify acts on drift.unmanaged, drift.changed and drift.missing findings only", k)
		}
		if k == model.KindMissing && !sel.AcceptMissing {
			return nil, errors.New("--kind drift.missing needs --accept-missing: codify answers a missing resource by deleting its block and forgetting it from the state")
		}
	}
	kinds := sel.Kinds
	if len(kinds) == 0 {
		kinds = []model.Kind{model.KindUnmanaged, model.KindChanged}
		if sel.AcceptMissing {
			kinds = append(kinds, model.KindMissing)
		}
	}
	picked := make([]bool, len(fs))
	for _, want := range sel.Fingerprints {
		want = strings.ToLower(strings.TrimSpace(want))
		if len(want) < minPrefix {
			return nil, fmt.Errorf("--finding %q: give at least %d characters of the fingerprint", want, minPrefix)
		}
		match := -1
		for i, f := range fs {
			if strings.HasPrefix(f.Fingerprint, want) {
				if match >= 0 && fs[match].Fingerprint != f.Fingerprint {
					return nil, fmt.Errorf("--finding %s: matches %s and %s; give more characters", want, fs[match].Fingerprint, f.Fingerprint)
				}
				match = i
			}
		}
		if match < 0 {
			return nil, fmt.Errorf("--finding %s: no such finding in %s", want, source)
		}
		f := fs[match]
		switch {
		case !slices.Contains(codifiable, f.Kind):
			return nil, fmt.Errorf("--finding %s is a %s finding: codify acts on drift.unmanaged, drift.changed and drift.missing findings only", want, f.Kind)
		case f.Kind == model.KindMissing && !sel.AcceptMissing:
			return nil, fmt.Errorf("--finding %s is a drift.missing finding: pass --accept-missing to delete its resource block and forget it from the state", want)
		}
		picked[match] = true
	}
	supported := map[string]bool{}
	for _, t := range SupportedTypes() {
		supported[t] = true
	}
	var out []model.Finding
	var unsupported []string
	for i, f := range fs {
		if len(sel.Fingerprints) > 0 && !picked[i] {
			continue
		}
		if len(sel.Types) > 0 && !slices.Contains(sel.Types, f.Resource.Type) {
			continue
		}
		if !slices.Contains(kinds, f.Kind) && !picked[i] {
			continue
		}
		if !supported[f.Resource.Type] {
			unsupported = append(unsupported, fmt.Sprintf("%s %s (%s %s)", f.Kind, f.Fingerprint, f.Resource.Type, f.Resource.ID))
			continue
		}
		out = append(out, f)
	}
	if len(unsupported) > 0 {
		n := len(unsupported)
		more := ""
		if n > 10 {
			more = fmt.Sprintf("\n  ... and %d more", len(unsupported)-10)
			unsupported = unsupported[:10]
		}
		return nil, fmt.Errorf("%d chosen finding(s) have a resource type codify does not support (it adopts the AWS types of docs/resources.md); narrow the choice with --type, --kind or --finding:\n  %s%s",
			n, strings.Join(unsupported, "\n  "), more)
	}
	return out, nil
}
