package aws

import (
	"fmt"
	"slices"
	"strings"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/policy"
)

// PolicyCoverage tells the policy engine which resources a scan read in
// full, so a rule about a companion (a VPC's flow log, a bucket's public
// access block) calls a missing one missing only where its type was
// listed without error, and a compliance report never calls a control met
// when a type its rules check was not read at all.
//
// Types with a lister are covered where inv marks them complete. The S3
// sub-resources (encryption, policy, public access block) are read with
// their buckets: they are covered in a region when the buckets were and
// every bucket's detail call answered. Any other type is not read.
func PolicyCoverage(inv *inventory.Result) policy.Coverage {
	c := &coverage{inv: inv, listers: map[string]lister{}, unread: map[string]map[string]int{}, folded: foldedTypes()}
	for _, l := range allListers() {
		c.listers[l.Name] = l
	}
	if inv != nil {
		c.regions = inv.Regions
		for _, r := range inv.Resources {
			c.noteUnread(r)
		}
	}
	return c
}

// ReadCoverage is PolicyCoverage for resources read back one by one (event
// time): only the S3 sub-resources of the buckets read are covered, in
// their regions; nothing else was listed.
func ReadCoverage(resources []model.Resource) policy.Coverage {
	c := &coverage{listers: map[string]lister{}, unread: map[string]map[string]int{}, buckets: map[string]bool{}, folded: foldedTypes()}
	for _, r := range resources {
		if r.Type == "aws_s3_bucket" {
			c.buckets[r.Region] = true
			c.noteUnread(r)
		}
	}
	return c
}

type coverage struct {
	inv     *inventory.Result
	regions []string
	listers map[string]lister
	// unread counts, per S3 sub-resource type and region, the buckets
	// whose detail call for it failed.
	unread map[string]map[string]int
	// buckets are the regions of the buckets read back (ReadCoverage).
	buckets map[string]bool
	// folded maps types that exist only in Terraform (a security group
	// rule declared apart) to the live type holding them: live, a rule on
	// the child is decided through its parent's rules.
	folded map[string]string
}

func foldedTypes() map[string]string {
	out := map[string]string{}
	for _, f := range foldListers() {
		out[f.childType] = f.parentType
	}
	return out
}

func (c *coverage) noteUnread(r model.Resource) {
	list, _ := r.Attributes[policyUnread].([]string)
	for _, typ := range list {
		if c.unread[typ] == nil {
			c.unread[typ] = map[string]int{}
		}
		c.unread[typ][r.Region]++
	}
}

// Covered implements policy.Coverage.
func (c *coverage) Covered(typ, region string) (bool, string) {
	if parent, ok := c.folded[typ]; ok {
		typ = parent
	}
	if slices.Contains(s3Children, typ) {
		return c.childCovered(typ, region)
	}
	l, ok := c.listers[typ]
	if !ok {
		return false, "not listed by the live inventory"
	}
	if c.inv == nil {
		return false, "only read by a scan of the estate"
	}
	switch {
	case l.Global:
		if c.inv.Complete(typ, "") {
			return true, ""
		}
		return false, "not listed (see the scan's errors)"
	case region == "":
		if c.inv.CompleteAnywhere(typ) {
			return true, ""
		}
		return false, "not listed in every scanned region"
	case !slices.Contains(c.regions, region):
		return false, fmt.Sprintf("region %s is not scanned (pass --region %s)", region, region)
	case c.inv.Complete(typ, region):
		return true, ""
	}
	return false, fmt.Sprintf("not listed in %s (see the scan's errors)", region)
}

func (c *coverage) childCovered(typ, region string) (bool, string) {
	if n := c.unread[typ][region]; n > 0 {
		return false, fmt.Sprintf("could not be read for %d bucket(s) in %s", n, regionLabel(region))
	}
	if c.buckets != nil {
		if c.buckets[region] {
			return true, ""
		}
		return false, "only read with its bucket"
	}
	if c.inv == nil {
		return false, "only read with its bucket"
	}
	if region == "" {
		if c.inv.CompleteAnywhere("aws_s3_bucket") {
			return true, ""
		}
		return false, "read with the buckets, which were not listed in every scanned region"
	}
	if c.inv.Complete("aws_s3_bucket", region) {
		return true, ""
	}
	return false, fmt.Sprintf("read with the buckets, which were not listed in %s", region)
}

// Listed implements policy.Coverage. A type that exists only in Terraform
// and is folded into a live parent is listed when the parent is.
func (c *coverage) Listed(typ string) (bool, string) {
	if parent, ok := c.folded[typ]; ok {
		typ = parent
	}
	if slices.Contains(s3Children, typ) {
		var bad []string
		for region, n := range c.unread[typ] {
			if n > 0 {
				bad = append(bad, regionLabel(region))
			}
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			return false, fmt.Sprintf("could not be read for some buckets in %s", strings.Join(bad, ", "))
		}
		if c.inv != nil && !c.inv.CompleteAnywhere("aws_s3_bucket") {
			return false, "read with the buckets, which were not listed in every scanned region"
		}
		return true, ""
	}
	l, ok := c.listers[typ]
	if !ok {
		return false, "not listed by the live inventory"
	}
	if c.inv == nil {
		return false, "only read by a scan of the estate"
	}
	if l.Global {
		if c.inv.Complete(typ, "") {
			return true, ""
		}
		return false, "not listed (see the scan's errors)"
	}
	if c.inv.CompleteAnywhere(typ) {
		return true, ""
	}
	return false, "not listed in every scanned region (see the scan's errors)"
}
