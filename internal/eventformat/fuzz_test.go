package eventformat

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"plumb/internal/model"
)

// Every parser promises two things on any input: it does not panic, and a
// failure is a *ParseError (so the receiver can always answer 400 with a
// reason). Success promises a usable event: a non-empty ID and a Raw that
// is valid JSON.

func addTestdataSeeds(f *testing.F, prefix string) {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", prefix+"*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func requireParseError(t *testing.T, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error is not a *ParseError: %T %v", err, err)
	}
	if pe.Error() == "" {
		t.Fatal("empty error message")
	}
}

func requireEvent(t *testing.T, ev model.Event, src model.EventSource) {
	t.Helper()
	if ev.ID == "" || ev.Type == "" || ev.Source != src {
		t.Fatalf("accepted event without id/type/source: %+v", ev)
	}
	if !json.Valid(ev.Raw) {
		t.Fatalf("Raw is not valid JSON: %q", ev.Raw)
	}
}

func FuzzParseEventGrid(f *testing.F) {
	addTestdataSeeds(f, "eventgrid_")
	f.Fuzz(func(t *testing.T, body []byte) {
		batch, err := ParseEventGrid(body)
		if err != nil {
			requireParseError(t, err)
		} else if batch.Validation != nil {
			if batch.Validation.Code == "" || len(batch.Events) != 0 {
				t.Fatalf("bad validation batch: %+v", batch)
			}
		} else {
			if len(batch.Events) == 0 {
				t.Fatal("accepted an empty batch")
			}
			for _, ev := range batch.Events {
				requireEvent(t, ev, model.SourceEventGrid)
				if ev.Subject == "" {
					t.Fatalf("accepted event without subject: %+v", ev)
				}
			}
		}
		ev, err := ParseEventGridEvent(body)
		if err != nil {
			requireParseError(t, err)
			return
		}
		requireEvent(t, ev, model.SourceEventGrid)
	})
}

// FuzzParseCloudEventsHTTP takes headers as "Name: value" lines so the
// fuzzer can explore ce-* header names as well as values.
func FuzzParseCloudEventsHTTP(f *testing.F) {
	for _, n := range []string{"cloudevents_structured.json"} {
		f.Add(ContentTypeCloudEventsJSON, "", readTestdata(f, n))
	}
	f.Add(ContentTypeCloudEventsBatch, "", readTestdata(f, "cloudevents_batch.json"))
	f.Add("application/json", "ce-specversion: 1.0\nce-id: a\nce-source: /s\nce-type: t\nce-subject: x%20y", []byte(`{"a":1}`))
	f.Add("text/plain", "ce-specversion: 1.0\nce-id: a\nce-source: /s\nce-type: t\nce-time: 2026-01-01T00:00:00Z", []byte("hi"))
	f.Fuzz(func(t *testing.T, contentType, headers string, body []byte) {
		h := http.Header{}
		for line := range strings.SplitSeq(headers, "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok {
				h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
			}
		}
		evs, err := ParseCloudEventsHTTP(contentType, h, body)
		if err != nil {
			requireParseError(t, err)
			return
		}
		for _, ev := range evs {
			requireEvent(t, ev, model.SourceCloudEvents)
			if ev.Topic == "" {
				t.Fatalf("accepted event without source: %+v", ev)
			}
			// Raw is always a structured event, whatever the mode.
			again, err := ParseCloudEvent(ev.Raw)
			if err != nil {
				t.Fatalf("Raw does not parse back: %v\n%s", err, ev.Raw)
			}
			if again.ID != ev.ID || again.Type != ev.Type || again.Topic != ev.Topic {
				t.Fatalf("round trip changed the event: %+v vs %+v", again, ev)
			}
		}
	})
}

func FuzzParseEventBridge(f *testing.F) {
	addTestdataSeeds(f, "eventbridge_")
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEventBridge(body)
		if err != nil {
			requireParseError(t, err)
			return
		}
		requireEvent(t, ev, model.SourceEventBridge)
		if ev.Topic == "" {
			t.Fatalf("accepted event without source: %+v", ev)
		}
	})
}

func requireAlert(t *testing.T, a Alert) {
	t.Helper()
	if a.ID == "" || !json.Valid(a.Raw) {
		t.Fatalf("accepted alert without id or with invalid Raw: %+v", a)
	}
	switch a.Severity {
	case model.SeverityLow, model.SeverityMedium, model.SeverityHigh, model.SeverityCritical:
	default:
		t.Fatalf("severity %q is not on plumb's scale", a.Severity)
	}
	if f := AlertFinding(a, "env"); f.Fingerprint == "" || f.Kind != model.KindAlert {
		t.Fatalf("bad finding: %+v", f)
	}
}

func FuzzParseAzureMonitorAlert(f *testing.F) {
	addTestdataSeeds(f, "azuremonitor_")
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := ParseAzureMonitorAlert(body)
		if err != nil {
			requireParseError(t, err)
			return
		}
		if len(alerts) != 1 {
			t.Fatalf("want exactly one alert, got %d", len(alerts))
		}
		requireAlert(t, alerts[0])
	})
}

func FuzzParseAlertmanager(f *testing.F) {
	addTestdataSeeds(f, "alertmanager_")
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := ParseAlertmanager(body)
		if err != nil {
			requireParseError(t, err)
			return
		}
		if len(alerts) == 0 {
			t.Fatal("accepted a payload without alerts")
		}
		for _, a := range alerts {
			requireAlert(t, a)
		}
	})
}
