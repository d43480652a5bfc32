package scan

import (
	"fmt"
	"slices"
	"strings"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// markJudged marks the desired resources whose address Terraform
// evaluated (tfdrift.Result.Refreshed). With in set only the resources it
// accepts (those pulled from the refreshed directory) are considered: the
// same address in another root is another resource.
func markJudged(judged []bool, desired []model.DesiredResource, refreshed []string, in func(model.DesiredResource) bool) {
	for i, d := range desired {
		if in != nil && !in(d) {
			continue
		}
		if _, ok := slices.BinarySearch(refreshed, d.Address); ok {
			judged[i] = true
		}
	}
}

// notEvaluatedReasons says, in the user's terms, why declared resources
// may not have been evaluated. The report leads with them when its
// summary counts resources as not evaluated.
func notEvaluatedReasons(opts Options, clouds []string, desired []model.DesiredResource, errs []inventory.ScopeError, timedOut bool) []string {
	var out []string
	if timedOut {
		out = append(out, fmt.Sprintf("the scan stopped at its time limit (--timeout %s) before every part of the estate was read", opts.Timeout))
	}
	declared := map[string]bool{}
	for _, d := range desired {
		declared[d.Provider] = true
	}
	for _, c := range []struct{ cloud, provider, name string }{{CloudAWS, "aws", "AWS"}, {CloudAzure, "azurerm", "Azure"}} {
		if !declared[c.provider] || slices.Contains(clouds, c.cloud) {
			continue
		}
		switch {
		case slices.Contains(opts.Clouds, CloudNone):
			out = append(out, fmt.Sprintf("no %s inventory ran (--cloud none)", c.name))
		case len(opts.Clouds) > 0:
			out = append(out, fmt.Sprintf("no %s inventory ran (--cloud %s)", c.name, strings.Join(opts.Clouds, ", ")))
		}
	}
	var unread []inventory.ScopeError
	for _, e := range errs {
		if !strings.HasPrefix(e.Scope, "policy/") {
			unread = append(unread, e)
		}
	}
	if len(unread) > 0 {
		same := true
		for _, e := range unread {
			same = same && e.Message == unread[0].Message
		}
		if same {
			out = append(out, fmt.Sprintf("%d %s of the estate could not be read: %s", len(unread), plural(len(unread), "part", "parts"), unread[0].Message))
		} else {
			out = append(out, fmt.Sprintf("%d %s of the estate could not be read (listed under errors)", len(unread), plural(len(unread), "part", "parts")))
		}
	}
	if len(out) == 0 {
		out = append(out, "their type or region was not part of this scan (see --type and --region)")
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
