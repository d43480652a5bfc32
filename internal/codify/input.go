package codify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"plumb/internal/jsonpos"
	"plumb/internal/model"
)

// Input is the set of findings codify chooses from, with what is known
// about the scan that produced them.
type Input struct {
	// Source names where the findings came from, for messages.
	Source      string
	Environment string
	Findings    []model.Finding
	// Errors are the parts of the estate the scan could not read; a
	// report with errors is partial.
	Errors []ScopeError
}

// ScopeError is one unread part of the estate, as the report lists it.
type ScopeError struct {
	Scope   string `json:"scope"`
	Message string `json:"message"`
}

// Partial reports whether the scan could not read part of the estate.
func (in *Input) Partial() bool { return len(in.Errors) > 0 }

// reportVersion is the JSON report contract codify reads.
const reportVersion = 1

// maxReportSize bounds a report read into memory.
const maxReportSize = 256 << 20

// wire shapes of the JSON report (docs/report.md); only what codify needs.
type wireReport struct {
	Version     *int          `json:"version"`
	Environment string        `json:"environment"`
	Findings    []wireFinding `json:"findings"`
	Errors      []ScopeError  `json:"errors"`
}

type wireFinding struct {
	Kind        string        `json:"kind"`
	Severity    string        `json:"severity"`
	Fingerprint string        `json:"fingerprint"`
	Resource    *wireResource `json:"resource"`
	Address     *string       `json:"address"`
	Source      string        `json:"source"`
	Changes     []wireChange  `json:"changes"`
	Message     string        `json:"message"`
	File        string        `json:"file"`
	Line        int           `json:"line"`
}

type wireResource struct {
	Provider string            `json:"provider"`
	Type     string            `json:"type"`
	ID       string            `json:"id"`
	Region   string            `json:"region"`
	Account  string            `json:"account"`
	Name     string            `json:"name"`
	ARN      string            `json:"arn"`
	Tags     map[string]string `json:"tags"`
}

type wireChange struct {
	Path   *string `json:"path"`
	Before any     `json:"before"`
	After  any     `json:"after"`
}

// ReadReport reads a plumb JSON report (`plumb scan -o json`). Errors name
// the file, the line and column, and the field, in the report's own
// terms.
func ReadReport(name string, data []byte) (*Input, error) {
	if len(data) > maxReportSize {
		return nil, fmt.Errorf("%s: report is %d bytes, more than the %d plumb reads", name, len(data), maxReportSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty file, not a plumb JSON report (write one with plumb scan -o json=%s)", name, name)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var w wireReport
	if err := dec.Decode(&w); err != nil {
		return nil, reportJSONError(name, data, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		line, col := jsonpos.LineCol(data, off)
		return nil, fmt.Errorf("%s:%d:%d: unexpected data after the report object", name, line, col)
	}
	at := func(path string) string {
		off, ok := jsonpos.Find(data, path)
		if !ok {
			return name
		}
		line, col := jsonpos.LineCol(data, off)
		return fmt.Sprintf("%s:%d:%d", name, line, col)
	}
	switch {
	case w.Version == nil:
		return nil, fmt.Errorf("%s: no \"version\": not a plumb JSON report (write one with plumb scan -o json=FILE)", name)
	case *w.Version != reportVersion:
		return nil, fmt.Errorf("%s: version %d: this plumb reads report version %d", at("version"), *w.Version, reportVersion)
	case w.Findings == nil:
		return nil, fmt.Errorf("%s: no \"findings\" array: not a plumb JSON report", name)
	}
	in := &Input{Source: name, Environment: w.Environment, Errors: w.Errors}
	seen := map[string]int{}
	for i, wf := range w.Findings {
		p := fmt.Sprintf("findings[%d]", i)
		f, field, err := wf.finding()
		if err != nil {
			where := at(p)
			if field != "" {
				// The field itself, or its nearest parent that exists.
				for fp := p + "." + field; fp != p; fp = fp[:strings.LastIndexAny(fp, ".[")] {
					if loc := at(fp); loc != name {
						where = loc
						break
					}
				}
				return nil, fmt.Errorf("%s: findings[%d].%s: %w", where, i, field, err)
			}
			return nil, fmt.Errorf("%s: findings[%d]: %w", where, i, err)
		}
		if j, dup := seen[f.Fingerprint]; dup {
			return nil, fmt.Errorf("%s: findings[%d].fingerprint: %s repeats findings[%d]", at(p+".fingerprint"), i, f.Fingerprint, j)
		}
		seen[f.Fingerprint] = i
		f.Environment = w.Environment
		in.Findings = append(in.Findings, f)
	}
	for i, e := range w.Errors {
		if e.Scope == "" {
			return nil, fmt.Errorf("%s: errors[%d].scope: missing", at(fmt.Sprintf("errors[%d]", i)), i)
		}
	}
	return in, nil
}

// finding validates one wire finding; field names the offending field.
func (wf wireFinding) finding() (model.Finding, string, error) {
	var f model.Finding
	switch {
	case wf.Kind == "":
		return f, "kind", errors.New("missing")
	case !isFingerprint(wf.Fingerprint):
		return f, "fingerprint", fmt.Errorf("%q is not 32 lowercase hexadecimal characters", wf.Fingerprint)
	case wf.Resource == nil:
		return f, "resource", errors.New("missing")
	case wf.Resource.Type == "":
		return f, "resource.type", errors.New("missing")
	case wf.Resource.ID == "":
		return f, "resource.id", errors.New("missing")
	}
	f = model.Finding{
		Kind:        model.Kind(wf.Kind),
		Severity:    model.Severity(wf.Severity),
		Fingerprint: wf.Fingerprint,
		Resource: model.Resource{
			Provider: wf.Resource.Provider, Type: wf.Resource.Type, ID: wf.Resource.ID,
			Region: wf.Resource.Region, Account: wf.Resource.Account, Name: wf.Resource.Name,
			ARN: wf.Resource.ARN, Tags: wf.Resource.Tags,
		},
		Address: wf.Address,
		Source:  wf.Source,
		Message: wf.Message,
		File:    wf.File,
		Line:    wf.Line,
		Changes: []model.Change{},
	}
	for i, c := range wf.Changes {
		if c.Path == nil || *c.Path == "" {
			return model.Finding{}, fmt.Sprintf("changes[%d].path", i), errors.New("missing")
		}
		f.Changes = append(f.Changes, model.Change{Path: *c.Path, Before: c.Before, After: c.After})
	}
	return f, "", nil
}

func isFingerprint(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// reportJSONError turns an encoding/json error into file:line:column and
// the field, in the report's terms.
func reportJSONError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := max(se.Offset-1, 0)
		if strings.Contains(se.Error(), "unexpected end") {
			off = int64(len(data))
		}
		line, col := jsonpos.LineCol(data, off)
		return fmt.Errorf("%s:%d:%d: malformed JSON: %v", name, line, col, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		off := max(te.Offset-1, 0)
		path, start := jsonpos.ValueAt(data, te.Offset, nil)
		line, col := jsonpos.LineCol(data, start)
		if path == "" {
			line, col = jsonpos.LineCol(data, off)
			path = te.Field
		}
		if path == "" {
			path = "the document"
		}
		return fmt.Errorf("%s:%d:%d: %s: JSON %s where the report has %s", name, line, col, path, te.Value, jsonKind(te.Type))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		line, col := jsonpos.LineCol(data, int64(len(data)))
		return fmt.Errorf("%s:%d:%d: malformed JSON: the document ends early (is the file truncated?)", name, line, col)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: empty file, not a plumb JSON report", name)
	}
	return fmt.Errorf("%s: read report: %w", name, err)
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "another type"
}
