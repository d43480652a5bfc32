package handler

import (
	"context"
	"encoding/json"
	"testing"

	"plumb/internal/model"
)

// FuzzDriftMapping runs DriftCheck and Validate over arbitrary payloads:
// no panic, and never a finding for a payload that maps to nothing.
func FuzzDriftMapping(f *testing.F) {
	f.Add([]byte(runInstances(userBob, "i-1").Raw), "eventbridge")
	f.Add([]byte(createBucket(userBob, "b").Raw), "eventbridge")
	f.Add([]byte(azureEvent("Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Storage/storageAccounts/write", storageID+"s", "u").Raw), "eventgrid")
	sd := &StateDesired{Load: func(context.Context, string) ([]model.DesiredResource, error) { return nil, nil }}
	f.Fuzz(func(t *testing.T, raw []byte, source string) {
		ev := model.Event{Source: model.EventSource(source), Raw: json.RawMessage(raw)}
		d := Delivery{Event: ev, Environment: "e"}
		fs, err := DriftCheck{Desired: sd}.Handle(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.Resource.Type == "" || f.Resource.ID == "" {
				t.Fatalf("finding without type or id: %+v", f)
			}
		}
		if _, err := (Validate{Checks: []Check{RequiredTags{Keys: []string{"k"}}}}).Handle(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	})
}
