package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"plumb/internal/model"
)

// FuzzIsWrite feeds arbitrary payloads through everything that reads raw
// CloudTrail/Event Grid JSON; none of it may panic.
func FuzzIsWrite(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "eventbridge")
	}
	f.Add([]byte(`{"detail":{"eventName":"RunInstances","responseElements":{"instancesSet":{"items":[null,1,{"instanceId":7}]}}}}`), "eventbridge")
	f.Add([]byte(`{"data":{"operationName":"/write","resourceUri":"/"}}`), "eventgrid")
	f.Fuzz(func(t *testing.T, raw []byte, source string) {
		ev := model.Event{Source: model.EventSource(source), Raw: json.RawMessage(raw), Operation: source}
		IsWrite(ev)
		Created(ev)
		Finding(ev, "env")
		c, _ := NewChecker([]string{"arn:aws:iam::1:role/x/*"})
		c.IsPipelineEvent(ev)
	})
}
