package poller

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"plumb/internal/model"
)

// testDecode is a stand-in for the eventformat parsers: it reads the id
// and the type under the names EventBridge and Event Grid use, from one
// object or an array of them.
func testDecode(body []byte) ([]model.Event, error) {
	type shape struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		EventType  string `json:"eventType"`
		DetailType string `json:"detail-type"`
	}
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil {
		list = []json.RawMessage{body}
	}
	var out []model.Event
	for _, raw := range list {
		var s shape
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("test decode: %w", err)
		}
		if s.ID == "" {
			return nil, errors.New("test decode: no id")
		}
		typ := s.Type
		if typ == "" {
			typ = s.EventType
		}
		if typ == "" {
			typ = s.DetailType
		}
		out = append(out, model.Event{Source: "test", ID: s.ID, Type: typ, Raw: raw})
	}
	return out, nil
}

// recordingSink commits every event it is given, except that the first
// failFirst calls (or every call, with failAlways) fail.
type recordingSink struct {
	mu         sync.Mutex
	failFirst  int
	failAlways bool
	calls      int
	events     []model.Event
	sources    []string
}

func (s *recordingSink) Accept(_ context.Context, source string, events []model.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failAlways || s.calls <= s.failFirst {
		return errors.New("sink unavailable")
	}
	s.events = append(s.events, events...)
	s.sources = append(s.sources, source)
	return nil
}

func (s *recordingSink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, e := range s.events {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func (s *recordingSink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startRun runs a poller and returns a stop function that cancels it and
// checks that Run returned nil promptly.
func startRun(t *testing.T, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil on cancel", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Run did not return within 5s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func TestNextPollInterval(t *testing.T) {
	tests := []struct {
		name       string
		cur, limit time.Duration
		want       time.Duration
	}{
		{"starts at minimum", 0, time.Minute, 100 * time.Millisecond},
		{"doubles", 100 * time.Millisecond, time.Minute, 200 * time.Millisecond},
		{"doubles again", 3200 * time.Millisecond, time.Minute, 6400 * time.Millisecond},
		{"capped at limit", 51200 * time.Millisecond, time.Minute, time.Minute},
		{"stays at limit", time.Minute, time.Minute, time.Minute},
		{"limit below minimum", 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{"zero limit", 0, 0, 100 * time.Millisecond},
		{"overflow", time.Duration(1<<62 + 1), time.Duration(1<<63 - 1), time.Duration(1<<63 - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextPollInterval(tt.cur, tt.limit); got != tt.want {
				t.Errorf("nextPollInterval(%s, %s) = %s, want %s", tt.cur, tt.limit, got, tt.want)
			}
		})
	}

	// The whole sequence for the default limit: doubling from 100ms,
	// reaching the limit, staying there.
	var seq []time.Duration
	d := time.Duration(0)
	for range 12 {
		d = nextPollInterval(d, time.Minute)
		seq = append(seq, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(seq, want) {
		t.Errorf("sequence = %v, want %v", seq, want)
	}
}

func TestMessageBody(t *testing.T) {
	const js = `{"id":"1","eventType":"x"}`
	b64 := base64.StdEncoding.EncodeToString([]byte(js))
	tests := []struct {
		name       string
		text       string
		wantBase64 bool
		want       string
		wantErr    bool
	}{
		{"base64 expected and given", b64, true, js, false},
		{"raw JSON despite base64 setting", js, true, js, false},
		{"raw JSON array despite base64 setting", "[" + js + "]", true, "[" + js + "]", false},
		{"garbage with base64 setting", "not json at all!", true, "", true},
		{"raw expected and given", js, false, js, false},
		{"base64 of JSON despite raw setting", b64, false, js, false},
		{"raw text that is not JSON passes through", "hello", false, "hello", false},
		{"base64 of non-JSON with base64 setting", base64.StdEncoding.EncodeToString([]byte("nope")), true, "nope", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := messageBody(tt.text, tt.wantBase64)
			if (err != nil) != tt.wantErr {
				t.Fatalf("messageBody error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("messageBody = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSQSConfigDefaults(t *testing.T) {
	tests := []struct {
		name    string
		in      SQSConfig
		want    SQSConfig
		wantErr bool
	}{
		{"defaults", SQSConfig{QueueURL: "u"},
			SQSConfig{Name: "u", QueueURL: "u", WaitTime: 20 * time.Second, BatchSize: 10, MaxErrorBackoff: 30 * time.Second}, false},
		{"kept", SQSConfig{Name: "n", QueueURL: "u", WaitTime: time.Second, BatchSize: 3, VisibilityTimeout: 5 * time.Second, MaxErrorBackoff: time.Minute},
			SQSConfig{Name: "n", QueueURL: "u", WaitTime: time.Second, BatchSize: 3, VisibilityTimeout: 5 * time.Second, MaxErrorBackoff: time.Minute}, false},
		{"sub-second visibility rounds up", SQSConfig{QueueURL: "u", VisibilityTimeout: time.Millisecond},
			SQSConfig{Name: "u", QueueURL: "u", WaitTime: 20 * time.Second, BatchSize: 10, VisibilityTimeout: time.Second, MaxErrorBackoff: 30 * time.Second}, false},
		{"negative error back-off", SQSConfig{QueueURL: "u", MaxErrorBackoff: -time.Second}, SQSConfig{}, true},
		{"no url", SQSConfig{}, SQSConfig{}, true},
		{"wait too long", SQSConfig{QueueURL: "u", WaitTime: 21 * time.Second}, SQSConfig{}, true},
		{"batch too big", SQSConfig{QueueURL: "u", BatchSize: 11}, SQSConfig{}, true},
		{"visibility too long", SQSConfig{QueueURL: "u", VisibilityTimeout: 13 * time.Hour}, SQSConfig{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStorageQueueConfigDefaults(t *testing.T) {
	const cs = "UseDevelopmentStorage=true"
	tests := []struct {
		name    string
		in      StorageQueueConfig
		want    StorageQueueConfig
		wantErr bool
	}{
		{"defaults", StorageQueueConfig{ConnectionString: cs, Queue: "q"},
			StorageQueueConfig{Name: "q", ConnectionString: cs, Queue: "q", BatchSize: 16, VisibilityTimeout: 30 * time.Second,
				MaxPollingInterval: time.Minute, MaxDequeueCount: 5, MaxErrorBackoff: 30 * time.Second}, false},
		{"sub-second visibility rounds up", StorageQueueConfig{ConnectionString: cs, Queue: "q", VisibilityTimeout: time.Millisecond, Base64: true},
			StorageQueueConfig{Name: "q", ConnectionString: cs, Queue: "q", BatchSize: 16, VisibilityTimeout: time.Second,
				MaxPollingInterval: time.Minute, MaxDequeueCount: 5, Base64: true, MaxErrorBackoff: 30 * time.Second}, false},
		{"error back-off kept", StorageQueueConfig{ConnectionString: cs, Queue: "q", MaxErrorBackoff: 5 * time.Second},
			StorageQueueConfig{Name: "q", ConnectionString: cs, Queue: "q", BatchSize: 16, VisibilityTimeout: 30 * time.Second,
				MaxPollingInterval: time.Minute, MaxDequeueCount: 5, MaxErrorBackoff: 5 * time.Second}, false},
		{"negative error back-off", StorageQueueConfig{ConnectionString: cs, Queue: "q", MaxErrorBackoff: -1}, StorageQueueConfig{}, true},
		{"no connection string", StorageQueueConfig{Queue: "q"}, StorageQueueConfig{}, true},
		{"no queue", StorageQueueConfig{ConnectionString: cs}, StorageQueueConfig{}, true},
		{"batch too big", StorageQueueConfig{ConnectionString: cs, Queue: "q", BatchSize: 33}, StorageQueueConfig{}, true},
		{"negative dequeue count", StorageQueueConfig{ConnectionString: cs, Queue: "q", MaxDequeueCount: -1}, StorageQueueConfig{}, true},
		{"negative polling interval", StorageQueueConfig{ConnectionString: cs, Queue: "q", MaxPollingInterval: -1}, StorageQueueConfig{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConstructorsRejectMissingParts(t *testing.T) {
	sink := &recordingSink{}
	if _, err := NewSQS(SQSConfig{QueueURL: "u"}, nil, testDecode, sink, nil); err == nil {
		t.Error("NewSQS without client: want error")
	}
	if _, err := NewStorageQueue(StorageQueueConfig{ConnectionString: "x", Queue: "q"}, nil, sink, nil); err == nil {
		t.Error("NewStorageQueue without decoder: want error")
	}
	secret := "AccountName=a;AccountKey=c2VjcmV0LWtleQ==;Bogus"
	_, err := NewStorageQueue(StorageQueueConfig{ConnectionString: secret, Queue: "q"}, testDecode, sink, nil)
	if err != nil && strings.Contains(err.Error(), "c2VjcmV0LWtleQ") {
		t.Errorf("error leaks the account key: %v", err)
	}
}
