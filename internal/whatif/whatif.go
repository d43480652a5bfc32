// Package whatif reads the result of an Azure Resource Manager what-if
// operation and turns it into plumb findings.
//
// What-if compares an ARM template (or Bicep file) with what is deployed and
// predicts what a deployment would change. Run in Complete mode it is a
// drift report for the resource group: resources the template declares
// but that are gone (Create), resources that exist but no template declares
// (Delete) and properties that differ (Modify). Two shapes reach plumb:
//
//   - the REST API result of POST .../deployments/NAME/whatIf, where the
//     changes sit under properties.changes, and
//   - `az deployment group what-if --no-pretty-print`, where the Azure CLI
//     flattens properties away and the changes sit at the top level.
//
// A bare JSON array of changes (what `--query changes` prints) is read too.
//
// Orientation: in what-if, "before" is the live resource and "after" is the
// template's prediction. plumb's report contract is the other way round
// (before is the value in code, after is the value observed live), so the
// deltas are swapped once, here, and nowhere else.
//
// What-if predicts; it does not observe. Microsoft documents that it can
// report properties as changing when they will not, so every drift.changed
// finding from it carries Confidence "low".
package whatif

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"plumb/internal/azuretype"
	"plumb/internal/model"
)

// Change types as the what-if API spells them. Comparisons fold case so a
// tool that lowercases enum values still reads.
const (
	ChangeCreate      = "Create"
	ChangeDelete      = "Delete"
	ChangeIgnore      = "Ignore"
	ChangeDeploy      = "Deploy"
	ChangeNoChange    = "NoChange"
	ChangeModify      = "Modify"
	ChangeUnsupported = "Unsupported"
)

// Property change types of a delta entry that change how it is read
// (the others are Create, Delete and Modify).
const (
	propArray    = "Array"
	propNoEffect = "NoEffect"
)

// Change is one resource in a what-if result, already named the way the
// rest of plumb names resources (azurerm type, import id), so findings from
// what-if and from the live inventory meet on the same identity.
type Change struct {
	// ResourceID is the ARM resource id exactly as the document gives it.
	ResourceID string
	// ChangeType is the document's changeType (Create, Delete, Ignore,
	// Deploy, NoChange, Modify, Unsupported, or a value a newer API added).
	ChangeType string
	// ARMType is derived from the id (Microsoft.Network/virtualNetworks).
	ARMType string
	// Type is the azurerm type for ARMType, or "" when plumb does not know
	// the type.
	Type string
	// Name is the last segment of the id.
	Name string
	// Region is the resource's "location", from the live side ("before")
	// except for Create, where only the template side exists; the other
	// side is used when that one has none. Empty when the document does
	// not say (ResourceIdOnly results carry no payload).
	Region string
	// Tags are the "tags" of the live side (the template side for Create),
	// following the report contract: a finding describes the live
	// resource, a missing one the declared resource. Nil when that side
	// shows no tags, so nothing may be concluded about them.
	Tags map[string]string
	// Deltas are the property changes, flattened to one entry per leaf:
	// Path is dotted with [index] for array elements
	// (properties.securityRules[1].properties.access). Before is the value
	// the template wants (code) and After the value deployed now (live),
	// following plumb's report contract; null means absent on that side.
	// NoEffect entries (read-only properties the service ignores) are
	// dropped, and values under secret-looking names are "(sensitive)".
	Deltas []model.Change
	// UnsupportedReason is what-if's explanation for an Unsupported change.
	UnsupportedReason string

	// rawDeltas counts the delta entries the document listed before
	// NoEffect entries were dropped, so Findings can tell "what-if compared
	// the properties and nothing effective differs" from "what-if did not
	// compare properties at all".
	rawDeltas int
}

// Unidentified is a change without an Azure resource id. Newer API versions
// (2024-11-01 and later) report Bicep extensible resources (Kubernetes,
// Microsoft Graph, ...) that way, identified by extension-specific
// "identifiers" instead. plumb cannot name or fingerprint them, so they are
// reported as not evaluated rather than dropped silently.
type Unidentified struct {
	// Path locates the entry in the document (properties.changes[4]).
	Path         string
	ChangeType   string
	SymbolicName string
	// Extension is the extension's name and version when given
	// ("MicrosoftGraph 1.0").
	Extension string
}

// Diagnostic is one entry of the result's diagnostics list (newer API
// versions): something what-if wants the operator to know about, such as a
// nested deployment it could not expand.
type Diagnostic struct {
	Level   string // Error, Warning or Info
	Code    string
	Message string
	Target  string
}

// Result is one parsed what-if document.
type Result struct {
	// Source is the file or URL the document was read from.
	Source string
	// Status is the operation status ("Succeeded"); empty when the document
	// does not carry one (a bare array of changes).
	Status string
	// Changes are the predicted changes, in document order.
	Changes []Change
	// Potential are the changes listed under potentialChanges: what-if
	// says they may or may not be deployed, so they are never findings.
	Potential []Change
	// Unidentified are changes and potential changes without a resource id.
	Unidentified []Unidentified
	// Diagnostics are kept as the document gives them; Findings turns
	// Error-level ones into scope errors.
	Diagnostics []Diagnostic
}

// FailedError reports a what-if document that records a failed operation
// (or an ARM error response) rather than predicted changes. It is a
// separate type so callers can tell "the operator's what-if run failed"
// from "the file is not what-if output".
type FailedError struct {
	Source  string
	Status  string
	Code    string
	Message string
}

func (e *FailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: what-if did not succeed", e.Source)
	if e.Status != "" {
		fmt.Fprintf(&b, " (status %s)", e.Status)
	}
	switch {
	case e.Code != "" && e.Message != "":
		fmt.Fprintf(&b, ": %s: %s", e.Code, e.Message)
	case e.Code != "" || e.Message != "":
		fmt.Fprintf(&b, ": %s%s", e.Code, e.Message)
	default:
		b.WriteString(": the document has no error code or message")
	}
	return b.String()
}

// The raw* types mirror the documented WhatIfOperationResult schema. Only
// what plumb uses is decoded; before/after snapshots keep just location and
// tags, which lets encoding/json skip the (large) rest of each payload.
type rawDoc struct {
	Status           string          `json:"status"`
	Error            *rawError       `json:"error"`
	Properties       *rawProperties  `json:"properties"`
	Changes          *[]rawChange    `json:"changes"`
	PotentialChanges []rawChange     `json:"potentialChanges"`
	Diagnostics      []rawDiagnostic `json:"diagnostics"`
}

type rawProperties struct {
	Changes          *[]rawChange    `json:"changes"`
	PotentialChanges []rawChange     `json:"potentialChanges"`
	Diagnostics      []rawDiagnostic `json:"diagnostics"`
}

type rawError struct {
	Code    string     `json:"code"`
	Message string     `json:"message"`
	Target  string     `json:"target"`
	Details []rawError `json:"details"`
}

type rawChange struct {
	ResourceID        string          `json:"resourceId"`
	ChangeType        string          `json:"changeType"`
	UnsupportedReason string          `json:"unsupportedReason"`
	SymbolicName      string          `json:"symbolicName"`
	Identifiers       json.RawMessage `json:"identifiers"`
	Extension         *rawExtension   `json:"extension"`
	Before            *snapshot       `json:"before"`
	After             *snapshot       `json:"after"`
	Delta             []rawDelta      `json:"delta"`
}

type rawExtension struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type snapshot struct {
	Location string         `json:"location"`
	Tags     map[string]any `json:"tags"`
}

type rawDelta struct {
	Path               string          `json:"path"`
	PropertyChangeType string          `json:"propertyChangeType"`
	Before             json.RawMessage `json:"before"`
	After              json.RawMessage `json:"after"`
	Children           []rawDelta      `json:"children"`
}

type rawDiagnostic struct {
	Level   string `json:"level"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target"`
}

// Parse reads a what-if document in any of the three shapes (REST result,
// Azure CLI output, bare array of changes). name is used in errors and
// becomes Result.Source.
//
// Errors name the file. Malformed JSON is reported with line:column and
// byte offset; a failed operation returns a *FailedError with ARM's error
// code and message. A change without a changeType, or with neither a
// resource id nor extension identifiers, is an error: the document is not
// what-if output as documented, and guessing would produce wrong findings.
func Parse(name string, data []byte) (*Result, error) {
	data, err := toUTF8(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	first := firstByte(data)
	if first == 0 {
		return nil, fmt.Errorf("%s: empty document, expected what-if JSON", name)
	}

	var doc rawDoc
	var changes, potential []rawChange
	var diags []rawDiagnostic
	changesPath, potentialPath := "changes", "potentialChanges"
	switch first {
	case '[':
		if err := json.Unmarshal(data, &changes); err != nil {
			return nil, jsonError(name, data, err)
		}
		changesPath = ""
	case '{':
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, jsonError(name, data, err)
		}
		if err := failure(name, &doc); err != nil {
			return nil, err
		}
		switch {
		case doc.Properties != nil && doc.Properties.Changes != nil && doc.Changes != nil:
			return nil, fmt.Errorf("%s: both \"changes\" and \"properties.changes\" are present; expected the REST shape or the CLI shape, not both", name)
		case doc.Changes != nil:
			changes = *doc.Changes
			potential, diags = doc.PotentialChanges, doc.Diagnostics
		case doc.Properties != nil:
			if doc.Properties.Changes == nil && doc.Status == "" {
				return nil, notWhatIf(name)
			}
			if doc.Properties.Changes != nil {
				changes = *doc.Properties.Changes
			}
			potential, diags = doc.Properties.PotentialChanges, doc.Properties.Diagnostics
			changesPath, potentialPath = "properties.changes", "properties.potentialChanges"
		case doc.Status != "":
			// A succeeded operation with nothing to report may omit
			// the list entirely.
			potential, diags = doc.PotentialChanges, doc.Diagnostics
		default:
			return nil, notWhatIf(name)
		}
	default:
		return nil, fmt.Errorf("%s: expected a JSON object or array, found %q at the start", name, first)
	}

	res := &Result{Source: name, Status: doc.Status}
	for i := range changes {
		if err := res.add(&changes[i], indexPath(changesPath, i), false); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for i := range potential {
		if err := res.add(&potential[i], indexPath(potentialPath, i), true); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, d := range diags {
		res.Diagnostics = append(res.Diagnostics, Diagnostic(d))
	}
	return res, nil
}

func notWhatIf(name string) error {
	return fmt.Errorf("%s: not an ARM what-if result: no \"changes\", \"properties.changes\" or \"status\" at the top level", name)
}

func indexPath(list string, i int) string {
	return list + "[" + strconv.Itoa(i) + "]"
}

// failure turns a failed operation or an ARM error response into an error.
// Anything other than success with an error attached, or a final status
// other than Succeeded, means the changes (if any) cannot be trusted.
func failure(name string, doc *rawDoc) error {
	status := doc.Status
	failed := doc.Error != nil && (doc.Error.Code != "" || doc.Error.Message != "")
	if status != "" && !strings.EqualFold(status, "Succeeded") {
		failed = true
	}
	if !failed {
		return nil
	}
	fe := &FailedError{Source: name, Status: status}
	if doc.Error != nil {
		fe.Code = doc.Error.Code
		fe.Message = errorMessage(doc.Error)
	}
	return fe
}

// errorMessage joins an ARM error's message with its details, which is
// where ARM puts the actual cause of an InvalidTemplateDeployment.
func errorMessage(e *rawError) string {
	msg := e.Message
	var parts []string
	var walk func(ds []rawError, depth int)
	walk = func(ds []rawError, depth int) {
		for i := range ds {
			if depth > 8 || len(parts) >= 10 {
				return
			}
			d := &ds[i]
			s := strings.TrimSpace(d.Code + ": " + d.Message)
			s = strings.TrimPrefix(strings.TrimSuffix(s, ":"), ": ")
			if d.Target != "" {
				s += " (target " + d.Target + ")"
			}
			if s != "" {
				parts = append(parts, s)
			}
			walk(d.Details, depth+1)
		}
	}
	walk(e.Details, 0)
	if len(parts) > 0 {
		msg += " [details: " + strings.Join(parts, "; ") + "]"
	}
	return msg
}

// add validates one raw change and appends it to the right list.
func (r *Result) add(rc *rawChange, path string, potential bool) error {
	if rc.ChangeType == "" {
		return fmt.Errorf("%s: changeType is missing", path)
	}
	if rc.ResourceID == "" {
		hasIdentifiers := len(rc.Identifiers) > 0 && string(rc.Identifiers) != "null"
		if !hasIdentifiers && rc.SymbolicName == "" && rc.Extension == nil {
			return fmt.Errorf("%s: resourceId is missing (and there are no extension identifiers)", path)
		}
		u := Unidentified{Path: path, ChangeType: rc.ChangeType, SymbolicName: rc.SymbolicName}
		if rc.Extension != nil {
			u.Extension = strings.TrimSpace(rc.Extension.Name + " " + rc.Extension.Version)
		}
		r.Unidentified = append(r.Unidentified, u)
		return nil
	}
	c, err := convert(rc, path)
	if err != nil {
		return err
	}
	if potential {
		r.Potential = append(r.Potential, c)
	} else {
		r.Changes = append(r.Changes, c)
	}
	return nil
}

func convert(rc *rawChange, path string) (Change, error) {
	c := Change{
		ResourceID:        rc.ResourceID,
		ChangeType:        rc.ChangeType,
		ARMType:           azuretype.FromID(rc.ResourceID),
		Name:              lastSegment(rc.ResourceID),
		UnsupportedReason: rc.UnsupportedReason,
	}
	if t, ok := azuretype.Terraform(c.ARMType); ok {
		c.Type = t
	}
	// The live side describes the resource, except for a resource that
	// does not exist yet. Tags come from that side only: a live resource
	// whose payload has no tags has none, and the template's tags must not
	// stand in for them. The location may come from either side, since a
	// move would show as a delta anyway.
	primary, other := rc.Before, rc.After
	if strings.EqualFold(rc.ChangeType, ChangeCreate) {
		primary, other = rc.After, rc.Before
	}
	if primary != nil {
		c.Region = primary.Location
		if primary.Tags != nil {
			c.Tags = stringTags(primary.Tags)
		}
	}
	if c.Region == "" && other != nil {
		c.Region = other.Location
	}
	f := flattener{}
	for i := range rc.Delta {
		if err := f.walk("", false, &rc.Delta[i], 0); err != nil {
			return Change{}, fmt.Errorf("%s: %w", indexPath(path+".delta", i), err)
		}
	}
	c.Deltas, c.rawDeltas = f.out, len(rc.Delta)
	return c, nil
}

// stringTags converts a tag object. ARM tag values are strings; anything
// else is kept as its JSON text rather than dropped, so a surprise shows.
func stringTags(in map[string]any) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
			out[k] = ""
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

func lastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	return id[strings.LastIndexByte(id, '/')+1:]
}

// toUTF8 strips a UTF-8 byte order mark and converts UTF-16 with a BOM,
// which is what Windows PowerShell 5.1 writes for `az ... > file`.
func toUTF8(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:], nil
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		le := data[0] == 0xFF
		body := data[2:]
		if len(body)%2 != 0 {
			return nil, errors.New("UTF-16 document with an odd number of bytes")
		}
		u := make([]uint16, len(body)/2)
		for i := range u {
			if le {
				u[i] = uint16(body[2*i]) | uint16(body[2*i+1])<<8
			} else {
				u[i] = uint16(body[2*i])<<8 | uint16(body[2*i+1])
			}
		}
		out := make([]byte, 0, len(u))
		for _, r := range utf16.Decode(u) {
			out = utf8.AppendRune(out, r)
		}
		return out, nil
	}
	return data, nil
}

// firstByte returns the first byte that is not JSON whitespace, or 0.
func firstByte(data []byte) byte {
	for _, b := range data {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b
	}
	return 0
}
