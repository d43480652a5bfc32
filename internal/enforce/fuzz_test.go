package enforce

import (
	"testing"
)

// FuzzDecodeJob feeds arbitrary queue payloads to the runner's decoder:
// a run it accepts has every action whole, so executing it cannot trip
// on a missing field.
func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(`{"run_id":"r","environment":"prod","actions":[{"id":"a","verb":"delete","resource":{"provider":"aws","type":"aws_s3_bucket","id":"b"}}]}`))
	f.Add([]byte(`{"run_id":"r","environment":"prod","actions":[null]}`))
	f.Add([]byte(`{"actions":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		j, err := decodeJob(raw)
		if err != nil {
			return
		}
		for _, a := range j.Actions {
			if a == nil || a.ID == "" || a.Resource.ID == "" {
				t.Fatalf("accepted an incomplete action: %+v", a)
			}
		}
		sortActions(j.Actions)
	})
}
