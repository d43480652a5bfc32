package filter

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"plumb/internal/model"
)

// FuzzNewDocMatchesDecode checks the lazy NewDoc against decoding the whole
// envelope up front: same error, same type and subject, same tree. It also
// checks the split view patterns read: splitting dotted keys leaves the
// tree Event Grid filters read untouched and leaves no dotted key behind.
func FuzzNewDocMatchesDecode(f *testing.F) {
	for _, s := range []string{
		egEvent, ceEvent, ebEvent, armWriteEvent, `{}`, ` {"eventType":"a","eventType":"b"} `,
		`{"ev\u0065ntType":"x","subject":"s\"}"}`, `{"specversion":"1.0","type":5,"subject":null}`,
		"{\"type\":\"caf\xff\",\"specversion\":1}", `{"a":1}x`, `[1]`, `{"a":`, `"s"`, `{"eventType":"\u00e9"}`,
		`{"data":{"eventType":"inner"},"subject":[1,"]"]}`,
		`{"a.b":1,"a":{"b":2,"c.d":[{"e.f":3}]},"x":{"y":{}}}`, `{"a":1,"a.b":{"c":2},"..":3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(bytes.TrimSpace(raw)) == 0 {
			return // rejected before either path
		}
		ev := model.Event{ID: "f", Type: "fallback-type", Subject: "fallback-subject", Raw: json.RawMessage(raw)}
		got, err := NewDoc(ev)
		want, werr := newDocDecoded(ev)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("NewDoc(%q) error %v, full decode %v", raw, err, werr)
		}
		if err != nil {
			return
		}
		if got.eventType != want.eventType || got.subject != want.subject || got.cloud != want.cloud {
			t.Fatalf("NewDoc(%q) = %q %q %v, full decode %q %q %v", raw, got.eventType, got.subject, got.cloud, want.eventType, want.subject, want.cloud)
		}
		if !reflect.DeepEqual(got.root(), want.root()) {
			t.Fatalf("NewDoc(%q) tree %v, full decode %v", raw, got.root(), want.root())
		}
		if got.tree.dotted != want.tree.dotted {
			t.Fatalf("NewDoc(%q) dotted %v, full decode %v", raw, got.tree.dotted, want.tree.dotted)
		}
		before := renderJSON(got.root(), 1<<30)
		split := got.patternRoot()
		if after := renderJSON(got.root(), 1<<30); after != before {
			t.Fatalf("splitting dotted keys changed the tree: %s became %s", before, after)
		}
		if _, changed := splitDotted(split); changed {
			t.Fatalf("split view of %q still has dotted keys: %s", raw, renderJSON(split, 1<<30))
		}
		if !got.tree.dotted && renderJSON(split, 1<<30) != before {
			t.Fatalf("split view of %q without dotted keys differs", raw)
		}
	})
}
