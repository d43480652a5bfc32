package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"path/filepath"
	"slices"

	"plumb/internal/model"
)

// SARIF 2.1.0 (OASIS) is what GitHub code scanning, Azure DevOps and most
// code review tools ingest. plumb writes one run whose results point at
// the .tf file and line declaring each resource, so a policy violation in
// a plan shows up as an annotation on the pull request that introduces it.
// The sarif* types below are the subset of the schema plumb fills in.

const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// sarifInformationURI is the driver's informationUri: where a reader
	// of the SARIF file learns what plumb is.
	sarifInformationURI = "https://github.com/plumb-dev/plumb"
	// sarifSrcRoot is the uriBaseId of every file location: paths are
	// relative to the Terraform root module, which is what GitHub
	// resolves against the repository checkout.
	sarifSrcRoot = "%SRCROOT%"
	// sarifFingerprintKey names plumb's fingerprint among a result's
	// partialFingerprints, versioned as SARIF recommends.
	sarifFingerprintKey = "plumbFingerprint/v1"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	// Properties carry what SARIF has no field for: the environment.
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string             `json:"id"`
	Name                 string             `json:"name,omitempty"`
	ShortDescription     *sarifText         `json:"shortDescription,omitempty"`
	Help                 *sarifText         `json:"help,omitempty"`
	DefaultConfiguration *sarifRuleConfig   `json:"defaultConfiguration,omitempty"`
	Properties           *sarifRuleProperty `json:"properties,omitempty"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

// sarifRuleProperty holds the property names GitHub code scanning reads:
// tags ("security" makes an alert a security alert) and security-severity
// (a number as a string, mapped to critical/high/medium/low).
type sarifRuleProperty struct {
	Tags             []string            `json:"tags,omitempty"`
	SecuritySeverity string              `json:"security-severity,omitempty"`
	Controls         map[string][]string `json:"controls,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
	// AssociatedRule names the rule a notification is about (a rule that
	// could not be evaluated on a resource).
	AssociatedRule *sarifRuleRef `json:"associatedRule,omitempty"`
}

type sarifRuleRef struct {
	ID string `json:"id"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Properties          *sarifResultProps `json:"properties,omitempty"`
}

type sarifResultProps struct {
	Severity         string              `json:"severity,omitempty"`
	SecuritySeverity string              `json:"security-severity,omitempty"`
	Controls         map[string][]string `json:"controls,omitempty"`
	ResourceType     string              `json:"resourceType,omitempty"`
	ResourceID       string              `json:"resourceId,omitempty"`
	Region           string              `json:"region,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifLevel maps plumb severities onto SARIF's three result levels.
// Unknown severities become warnings: visible, but not a build breaker.
func sarifLevel(s model.Severity) string {
	switch s {
	case model.SeverityCritical, model.SeverityHigh:
		return "error"
	case model.SeverityLow:
		return "note"
	}
	return "warning"
}

// securitySeverity is the CVSS-like score GitHub code scanning expects in
// security-severity; each value sits inside the band GitHub maps back to
// the same severity (critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low
// below). "" for unknown severities, which GitHub then leaves unrated.
func securitySeverity(s string) string {
	switch model.Severity(s) {
	case model.SeverityCritical:
		return "9.5"
	case model.SeverityHigh:
		return "8.0"
	case model.SeverityMedium:
		return "5.5"
	case model.SeverityLow:
		return "3.0"
	}
	return ""
}

// driftRuleTitles describe the synthetic rules drift findings are filed
// under, since drift has no rule of its own.
var driftRuleTitles = map[model.Kind]string{
	model.KindUnmanaged: "Undefined resource exists: a live resource no code declares",
	model.KindMissing:   "Defined resource doesn't exist: code declares a resource that is gone",
	model.KindChanged:   "Resource changed outside code",
	model.KindConflict:  "Resource defined more than once: two declarations (two states, or two blocks) own one cloud object",
}

// ruleID is the SARIF ruleId of a finding: the policy rule, or for
// findings without one (drift) the kind, so every result has a rule.
func ruleID(f model.Finding) string {
	if f.Rule != "" {
		return f.Rule
	}
	return string(f.Kind)
}

// renderSARIF writes the report as a SARIF 2.1.0 log with one run. The
// output is deterministic: rules sorted by id, results in the report's
// finding order.
func renderSARIF(w io.Writer, r *Report) error {
	findings := sortedFindings(r.Findings)
	rules, index := sarifRules(r.Rules, findings)

	inv := sarifInvocation{ExecutionSuccessful: !r.Partial()}
	for _, e := range sortedErrors(r.Errors) {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:   "error",
			Message: sarifText{Text: e.Scope + ": " + e.Message},
		})
	}
	// A rule that could not be decided on a resource is not a result (it
	// neither passed nor failed): it is told as a note, so a reader of the
	// SARIF file does not take the absence of a result for a pass.
	for _, n := range sortedNotEvaluated(r.NotEvaluated) {
		who := n.Address
		if who == "" {
			who = n.Type + " " + n.ID
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:          "note",
			Message:        sarifText{Text: fmt.Sprintf("%s not evaluated on %s: %s", n.Rule, who, n.Reason)},
			AssociatedRule: &sarifRuleRef{ID: n.Rule},
		})
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           "plumb",
			Version:        r.ToolVersion,
			InformationURI: sarifInformationURI,
			Rules:          rules,
		}},
		Invocations: []sarifInvocation{inv},
		Results:     make([]sarifResult, 0, len(findings)),
	}
	if r.Environment != "" {
		run.Properties = map[string]any{"environment": r.Environment}
	}
	for _, f := range findings {
		id := ruleID(f)
		res := sarifResult{
			RuleID:    id,
			RuleIndex: index[id],
			Level:     sarifLevel(f.Severity),
			Message:   sarifText{Text: f.Message},
			Locations: []sarifLocation{sarifLocationOf(f)},
		}
		if f.Fingerprint != "" {
			res.PartialFingerprints = map[string]string{sarifFingerprintKey: f.Fingerprint}
		}
		props := &sarifResultProps{
			Severity:     string(f.Severity),
			Controls:     f.Controls,
			ResourceType: f.Resource.Type,
			ResourceID:   f.Resource.ID,
			Region:       f.Resource.Region,
		}
		if f.Security {
			props.SecuritySeverity = securitySeverity(string(f.Severity))
		}
		res.Properties = props
		run.Results = append(run.Results, res)
	}
	doc := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return nil
}

// sarifLocationOf points at the declaring file and line when known and
// always names the resource logically: by Terraform address, or by type
// and id for resources no code declares.
func sarifLocationOf(f model.Finding) sarifLocation {
	var loc sarifLocation
	if f.File != "" {
		// A path is not yet a URI: spaces and other reserved characters
		// must be percent-encoded or consumers reject the location.
		uri := (&url.URL{Path: filepath.ToSlash(f.File)}).EscapedPath()
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri, URIBaseID: sarifSrcRoot}}
		if f.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Line}
		}
	}
	name := address(f)
	if name == "" {
		name = f.Resource.Type + "/" + f.Resource.ID
	}
	loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: name, Kind: "resource"}}
	return loc
}

// sarifRules lists every rule the report knows plus any rule a finding
// names that it does not (drift kinds, rules from elsewhere), sorted by
// id, and returns each id's index for result.ruleIndex.
func sarifRules(infos []RuleInfo, findings []model.Finding) ([]sarifRule, map[string]int) {
	byID := map[string]RuleInfo{}
	for _, ri := range infos {
		if _, ok := byID[ri.ID]; !ok {
			byID[ri.ID] = ri
		}
	}
	for _, f := range findings {
		id := ruleID(f)
		if _, ok := byID[id]; ok {
			continue
		}
		ri := RuleInfo{ID: id, Severity: string(f.Severity), Controls: f.Controls, Security: f.Security}
		if f.Rule == "" {
			ri.Title = driftRuleTitles[f.Kind]
		}
		byID[id] = ri
	}
	ids := slices.SortedFunc(maps.Keys(byID), func(a, b string) int { return cmp.Compare(a, b) })
	rules := make([]sarifRule, 0, len(ids))
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		ri := byID[id]
		index[id] = i
		sr := sarifRule{ID: id, Name: id}
		if ri.Title != "" {
			sr.ShortDescription = &sarifText{Text: ri.Title}
		}
		if ri.Remediation != "" {
			sr.Help = &sarifText{Text: ri.Remediation}
		}
		if ri.Severity != "" {
			sr.DefaultConfiguration = &sarifRuleConfig{Level: sarifLevel(model.Severity(ri.Severity))}
		}
		props := &sarifRuleProperty{Controls: ri.Controls}
		if ri.Security {
			props.Tags = []string{"security"}
			props.SecuritySeverity = securitySeverity(ri.Severity)
		}
		if len(props.Tags) > 0 || len(props.Controls) > 0 {
			sr.Properties = props
		}
		rules = append(rules, sr)
	}
	return rules, index
}
