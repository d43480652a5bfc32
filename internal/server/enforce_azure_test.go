package server

import (
	"testing"

	"plumb/internal/config"
)

// TestAzureSubscription checks which subscription the Azure executor acts
// in, and that none is built without an enforcing Azure environment.
func TestAzureSubscription(t *testing.T) {
	const subA, subB = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
	env := func(name, unmanaged string, subs ...string) string {
		out := "  - name: " + name + "\n    cloud: azure\n    states: [x.tfstate]\n    enforcement: {unmanaged: " + unmanaged + "}\n"
		if len(subs) > 0 {
			out += "    accounts: ["
			for i, s := range subs {
				if i > 0 {
					out += ", "
				}
				out += `"` + s + `"`
			}
			out += "]\n"
		}
		return out
	}
	cases := []struct {
		name, yaml, envSub string
		want               string
		wantOK             bool
	}{
		{name: "report only", yaml: env("test", "report"), wantOK: false},
		{name: "one subscription", yaml: env("prod", "quarantine", subA), want: subA, wantOK: true},
		{name: "AZURE_SUBSCRIPTION_ID wins", yaml: env("prod", "quarantine", subA), envSub: subB, want: subB, wantOK: true},
		{name: "several: none chosen", yaml: env("prod", "quarantine", subA) + env("stage", "quarantine", subB), wantOK: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AZURE_SUBSCRIPTION_ID", tc.envSub)
			cfg, err := config.Parse("plumb.yaml", []byte("environments:\n"+tc.yaml), func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			got, ok := azureSubscription(cfg)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("azureSubscription = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
