package tfplan

import (
	"maps"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"plumb/internal/model"
	"plumb/internal/policy"
)

// providerConfig is one AWS provider configuration of the root module.
type providerConfig struct {
	key    string // "aws", "aws.eu"
	alias  string
	region string // "" when not a constant
}

// awsProviderConfigs lists the root module's AWS provider configurations
// in key order.
func awsProviderConfigs(cfg *tfjson.Config) []providerConfig {
	if cfg == nil {
		return nil
	}
	var out []providerConfig
	for _, key := range slices.Sorted(maps.Keys(cfg.ProviderConfigs)) {
		pc := cfg.ProviderConfigs[key]
		if pc == nil || pc.ModuleAddress != "" || !isAWS(pc) {
			continue
		}
		c := providerConfig{key: key, alias: pc.Alias}
		if e := pc.Expressions["region"]; e != nil && e.ExpressionData != nil && len(e.References) == 0 {
			c.region, _ = e.ConstantValue.(string)
		}
		out = append(out, c)
	}
	return out
}

func isAWS(pc *tfjson.ProviderConfig) bool {
	return strings.HasSuffix(pc.FullName, "hashicorp/aws") || (pc.FullName == "" && pc.Name == "aws")
}

// configRegions maps provider configuration keys ("aws", "aws.eu") to
// their constant region, for resources whose own attributes do not say
// where they are.
func configRegions(cfg *tfjson.Config) map[string]string {
	out := map[string]string{}
	for _, c := range awsProviderConfigs(cfg) {
		if c.region != "" {
			out[c.key] = c.region
		}
	}
	return out
}

// accountSubjects are the account and region subjects of a plan (see
// policy.AccountType): one account, and one region per AWS provider
// configuration of the root module, each pointing at its provider block.
// Two configurations of one region are one region subject. A region that
// is not a constant (a variable) makes a region subject whose region is
// unknown, so rules about it are not evaluated rather than guessed.
func accountSubjects(cfg *tfjson.Config, loc *locator) []policy.Subject {
	configs := awsProviderConfigs(cfg)
	if len(configs) == 0 {
		return nil
	}
	var out []policy.Subject
	file, line := loc.find("", "provider", "aws")
	out = append(out, policy.Subject{
		Provider: "aws", Type: policy.AccountType, Address: policy.AccountType + ".this", Name: "aws",
		Attributes: map[string]any{}, File: file, Line: line,
	})
	seen := map[string]bool{}
	for _, c := range configs {
		name := c.region
		if name == "" {
			name = "unknown-region-" + c.key
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		file, line := loc.find("", "provider", c.key)
		attrs := map[string]any{"provider": c.key}
		if c.region != "" {
			attrs["region"] = c.region
		} else {
			attrs["region"] = &policy.Unknown{Untraced: true}
		}
		out = append(out, policy.Subject{
			Provider: "aws", Type: policy.RegionType, Address: policy.RegionType + "." + name, Name: c.key,
			Region: c.region, Attributes: attrs, File: file, Line: line,
		})
	}
	return out
}

// StateSubjects presents the resources of a Terraform state (as
// internal/state reads it) as policy subjects: every managed, current
// instance with the attributes the state holds, all of them known. It is
// how rules are evaluated on what an environment has applied without
// reading the cloud, for instance to compare environments.
func StateSubjects(resources []model.DesiredResource) []policy.Subject {
	var out []policy.Subject
	for _, d := range resources {
		if d.Mode == "data" || d.Deposed != "" || d.Raw == nil {
			continue
		}
		id, _ := d.Raw["id"].(string)
		out = append(out, policy.Subject{
			Provider:   d.Provider,
			Type:       d.Type,
			Address:    d.Address,
			ID:         id,
			Name:       d.Name,
			Region:     d.Region,
			Account:    d.Account,
			Tags:       d.Tags,
			Attributes: d.Raw,
		})
	}
	return out
}
