package config

import (
	"fmt"
	"regexp"
	"sort"
)

// Compliance settings of plumb.yaml: which environments are production
// (rules that compare environments, such as PCI DSS's separation of
// production from the others, need to know), which environment's code
// manages the account's own settings, and the parameters of policy rules.
//
//	environments:
//	  - name: prod
//	    production: true
//	    account_baseline: true
//	policy_params:
//	  observability: {max_retention_days: 365}        # a pack
//	  obs-xray-sampling-rate: {max_fixed_rate: 0.05}  # a rule (wins)

// EnvironmentCompliance are an environment's compliance settings, inlined
// in its entry of environments.
type EnvironmentCompliance struct {
	// Production marks the environment as production: across() and
	// overlaps() compare it with the environments that are not.
	Production bool `yaml:"production"`
	// AccountBaseline says the environment's code manages the account's
	// own settings (Access Analyzer, Security Hub, trails, the support
	// role): at plan time what it does not declare does not exist.
	AccountBaseline bool `yaml:"account_baseline"`
}

// PolicyParams are rule parameter overrides: a rule id or a pack name,
// then parameter names and values (a number, string, boolean or list).
type PolicyParams map[string]map[string]any

var (
	paramKeyPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	paramNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// validatePolicyParams checks the shape of policy_params. Whether a key
// names a rule or pack, and a parameter one the rule declares, is checked
// when the rules are loaded (they are not known here).
func (v *validator) validatePolicyParams(p PolicyParams) {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field := "policy_params." + k
		if !paramKeyPattern.MatchString(k) {
			v.errf(field, "%q: want a rule id or a pack name", k)
			continue
		}
		if len(p[k]) == 0 {
			v.errf(field, "no parameters: want name: value pairs")
			continue
		}
		names := make([]string, 0, len(p[k]))
		for n := range p[k] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !paramNamePattern.MatchString(n) {
				v.errf(field+"."+n, "%q: parameter names are letters, digits and '_', starting with a letter", n)
				continue
			}
			switch x := p[k][n].(type) {
			case nil:
				v.errf(field+"."+n, "no value")
			case map[string]any:
				v.errf(field+"."+n, "want a number, string, boolean or list, not a mapping")
			case []any:
				for i, e := range x {
					if _, bad := e.(map[string]any); bad || e == nil {
						v.errf(fmt.Sprintf("%s.%s[%d]", field, n, i), "want a number, string or boolean")
					}
				}
			}
		}
	}
}

// Production returns the names of the environments marked production.
func (c *Config) Production() map[string]bool {
	out := map[string]bool{}
	for _, e := range c.Environments {
		if e.Production {
			out[e.Name] = true
		}
	}
	return out
}
