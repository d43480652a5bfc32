package state

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestSynthetic(t *testing.T) {
	for _, n := range []int{1, 7, 500} {
		data := Synthetic(n)
		if !bytes.Equal(data, Synthetic(n)) {
			t.Fatalf("Synthetic(%d) is not deterministic", n)
		}
		if !json.Valid(data) {
			t.Fatalf("Synthetic(%d) is not valid JSON", n)
		}
		rs, err := Parse("synthetic.tfstate", data)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != n {
			t.Fatalf("Synthetic(%d) holds %d resources", n, len(rs))
		}
	}
	if bytes.Equal(Synthetic(10), Synthetic(11)[:len(Synthetic(10))]) {
		t.Error("different n should give different states")
	}

	rs, err := Parse("synthetic.tfstate", Synthetic(2000))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	addrs := map[string]bool{}
	var modules, forEach, count, west int
	idShape := map[string]*regexp.Regexp{
		"aws_instance":       regexp.MustCompile(`^i-[0-9a-f]{17}$`),
		"aws_vpc":            regexp.MustCompile(`^vpc-[0-9a-f]{17}$`),
		"aws_subnet":         regexp.MustCompile(`^subnet-[0-9a-f]{17}$`),
		"aws_security_group": regexp.MustCompile(`^sg-[0-9a-f]{17}$`),
		"aws_sqs_queue":      regexp.MustCompile(`^https://sqs\.[a-z0-9-]+\.amazonaws\.com/123456789012/[\w-]{1,80}$`),
		"aws_iam_role":       regexp.MustCompile(`^[a-z]+-[a-z]+_\d+[\w+=,.@-]*$`),
		"aws_s3_bucket":      regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{2,62}$`),
	}
	for _, r := range rs {
		types[r.Type]++
		if addrs[r.Address] {
			t.Fatalf("duplicate address %s", r.Address)
		}
		addrs[r.Address] = true
		if r.Provider != "aws" || r.Tags["Name"] == "" || r.Tags["ManagedBy"] != "terraform" {
			t.Fatalf("%s: provider %q tags %v", r.Address, r.Provider, r.Tags)
		}
		if re := idShape[r.Type]; re == nil || !re.MatchString(r.ID) {
			t.Fatalf("%s: id %q does not look like a %s id", r.Address, r.ID, r.Type)
		}
		if r.Type != "aws_iam_role" && r.Region == "" {
			t.Fatalf("%s: no region", r.Address)
		}
		if strings.HasPrefix(r.Address, "module.") {
			modules++
		}
		switch {
		case strings.HasSuffix(r.Address, `"]`):
			forEach++
		case strings.HasSuffix(r.Address, "]"):
			count++
		}
		if r.Region == "eu-west-1" {
			west++
		}
	}
	if len(types) != 7 {
		t.Errorf("types: %v", types)
	}
	if modules == 0 || forEach == 0 || count == 0 || west == 0 {
		t.Errorf("mix: modules=%d for_each=%d count=%d west=%d", modules, forEach, count, west)
	}
}
