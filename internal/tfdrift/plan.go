package tfdrift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"plumb/internal/jsonpos"
	"plumb/internal/model"
)

// planDoc is the part of a plan's JSON plumb reads. resource_drift uses
// terraform-json's own types; the large sections next to it
// (planned_values, prior_state, configuration, resource_changes) are only
// checked for presence, so decoding a plan costs little more than scanning
// it.
type planDoc struct {
	FormatVersion    *string                  `json:"format_version"`
	TerraformVersion string                   `json:"terraform_version"`
	ResourceDrift    []*tfjson.ResourceChange `json:"resource_drift"`
	PlannedValues    presence                 `json:"planned_values"`
	Values           presence                 `json:"values"`
	PriorState       *struct {
		Values *struct {
			RootModule addressModule `json:"root_module"`
		} `json:"values"`
	} `json:"prior_state"`
}

// addressModule is a module of prior_state, read for its resource
// addresses only (values are skipped).
type addressModule struct {
	Resources []struct {
		Address string `json:"address"`
		Mode    string `json:"mode"`
	} `json:"resources"`
	ChildModules []addressModule `json:"child_modules"`
}

// addresses appends the managed resource addresses of a module tree.
func (m *addressModule) addresses(out []string) []string {
	for _, r := range m.Resources {
		if r.Mode == string(tfjson.ManagedResourceMode) && r.Address != "" {
			out = append(out, r.Address)
		}
	}
	for i := range m.ChildModules {
		out = m.ChildModules[i].addresses(out)
	}
	return out
}

// presence records that a member exists and is not null without
// decoding it.
type presence bool

// UnmarshalJSON implements json.Unmarshaler.
func (p *presence) UnmarshalJSON(b []byte) error {
	*p = presence(!bytes.Equal(bytes.TrimSpace(b), []byte("null")))
	return nil
}

// ReadPlan reads the JSON of a saved plan (`terraform show -json PLAN`)
// for pipelines that already plan, so plumb does not refresh the estate a
// second time. name says where the data came from; it is the Source of the
// result and of every resource, and errors name it.
//
// Numbers decode as float64, as in plumb's state reader, so Raw has the
// same shape whichever way a resource was read.
func ReadPlan(name string, data []byte) (*Result, error) {
	var doc planDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, jsonError(name, data, err)
	}
	if err := checkFormat(name, &doc); err != nil {
		return nil, err
	}
	res := &Result{Source: name, TerraformVersion: doc.TerraformVersion}
	for i, rc := range doc.ResourceDrift {
		if rc == nil {
			continue
		}
		if rc.Mode == tfjson.DataResourceMode {
			// Data sources are read, not managed: a changed data source
			// is an input that moved, not a resource that drifted.
			continue
		}
		if rc.Address == "" || rc.Type == "" {
			return nil, fmt.Errorf("read plan %s: resource_drift[%d]: address and type are required", name, i)
		}
		if rc.Change == nil {
			return nil, fmt.Errorf("read plan %s: resource_drift[%d] (%s): no change object", name, i, rc.Address)
		}
		d, ok := drifted(name, rc)
		if ok {
			res.Drift = append(res.Drift, d)
		}
		if rc.DeposedKey == "" {
			res.Refreshed = append(res.Refreshed, rc.Address)
		}
	}
	if doc.PriorState != nil && doc.PriorState.Values != nil {
		res.Refreshed = doc.PriorState.Values.RootModule.addresses(res.Refreshed)
	}
	slices.Sort(res.Refreshed)
	res.Refreshed = slices.Compact(res.Refreshed)
	return res, nil
}

// checkFormat rejects what is not a plan plumb understands: JSON without a
// format_version (a raw tfstate file, any other document), the JSON of a
// state rather than a plan, and a format whose major version is not 1 (a
// new major may move the fields plumb reads; guessing would hide drift).
func checkFormat(name string, doc *planDoc) error {
	if doc.FormatVersion == nil {
		return fmt.Errorf("read plan %s: not a Terraform plan: no format_version (expected the output of `terraform show -json PLANFILE`)", name)
	}
	v := *doc.FormatVersion
	major, _, _ := strings.Cut(v, ".")
	if major != "1" {
		return fmt.Errorf("read plan %s: unsupported plan format_version %q: plumb reads format 1.x", name, v)
	}
	if doc.Values && !doc.PlannedValues {
		return fmt.Errorf("read plan %s: this is the JSON of a state, not of a plan (run `terraform show -json PLANFILE` on a plan file)", name)
	}
	return nil
}

// drifted converts one resource_drift entry. It returns false when the
// entry carries no difference plumb reports (see diffValues for the
// differences Terraform records that are not drift).
func drifted(source string, rc *tfjson.ResourceChange) (Drifted, bool) {
	ch := rc.Change
	beforeMarks, afterMarks := ch.BeforeSensitive, ch.AfterSensitive
	raw, _ := redact(ch.Before, beforeMarks).(map[string]any)

	d := Drifted{Desired: model.DesiredResource{
		Resource: model.Resource{
			Provider: shortProvider(rc.ProviderName),
			Type:     rc.Type,
			ID:       idOf(raw),
		},
		Address: rc.Address,
		Source:  source,
		Mode:    string(tfjson.ManagedResourceMode),
		Deposed: rc.DeposedKey,
		Raw:     raw,
	}}
	if d.Desired.ID == "" {
		after, _ := redact(ch.After, afterMarks).(map[string]any)
		d.Desired.ID = idOf(after)
	}
	if ch.Actions.Delete() || (ch.After == nil && ch.Before != nil) {
		d.Missing = true
		return d, true
	}
	d.Changes = diffValues(ch.Before, ch.After, beforeMarks, afterMarks)
	return d, len(d.Changes) > 0
}

// idOf returns the id attribute, the import id for most resource types.
func idOf(attrs map[string]any) string {
	if id, ok := attrs["id"].(string); ok {
		return id
	}
	return ""
}

// shortProvider turns a provider source address
// (registry.terraform.io/hashicorp/aws) into the short type name plumb
// uses everywhere else (aws).
func shortProvider(source string) string {
	return source[strings.LastIndexByte(source, '/')+1:]
}

// jsonError turns an encoding/json error into one that names the input,
// the line and column, the byte offset and, for a value of the wrong type,
// its path in the document.
func jsonError(name string, data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the bad one included.
		off := int(syn.Offset) - 1
		if strings.Contains(syn.Error(), "unexpected end") {
			off = len(data)
		}
		off = min(max(off, 0), len(data))
		line, col := jsonpos.LineCol(data, int64(off))
		return fmt.Errorf("read plan %s: invalid JSON at line %d, column %d (byte offset %d): %w", name, line, col, off, err)
	case errors.As(err, &typ):
		path, start := jsonpos.ValueAt(data, typ.Offset, joinKey)
		line, col := jsonpos.LineCol(data, start)
		if path == "" {
			path = "the document"
		}
		return fmt.Errorf("read plan %s: line %d, column %d (byte offset %d): %s is a JSON %s, which does not fit the plan format: %w", name, line, col, start, path, typ.Value, err)
	default:
		return fmt.Errorf("read plan %s: %w", name, err)
	}
}
