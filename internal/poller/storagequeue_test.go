package poller

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"plumb/internal/testenv"
)

// eventGridMessage is one Event Grid event as the storage-queue target
// writes it: the event JSON, base64-encoded.
func eventGridMessage(id string) string {
	ev := fmt.Sprintf(`{"id":%q,"topic":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg",`+
		`"subject":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg",`+
		`"eventType":"Microsoft.Resources.ResourceWriteSuccess","eventTime":"2025-01-02T03:04:05Z",`+
		`"data":{"operationName":"Microsoft.Network/networkSecurityGroups/write"},"dataVersion":"","metadataVersion":"1"}`, id)
	return base64.StdEncoding.EncodeToString([]byte(ev))
}

func newAzQueue(t *testing.T, connStr, name string) *azqueue.QueueClient {
	t.Helper()
	q, err := azqueue.NewQueueClientFromConnectionString(connStr, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Create(context.Background(), nil); err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return q
}

// queueTexts peeks at a queue without changing it; a queue that does not
// exist has no messages.
func queueTexts(t *testing.T, connStr, name string) []string {
	t.Helper()
	q, err := azqueue.NewQueueClientFromConnectionString(connStr, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	props, err := q.GetProperties(context.Background(), nil)
	if err != nil {
		return nil
	}
	if deref(props.ApproximateMessagesCount) == 0 {
		return nil
	}
	// Peek sees only visible messages; report invisible ones by count.
	out, err := q.PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: ptr(int32(32))})
	if err != nil {
		t.Fatalf("peek %s: %v", name, err)
	}
	var texts []string
	for _, m := range out.Messages {
		texts = append(texts, deref(m.MessageText))
	}
	for len(texts) < int(deref(props.ApproximateMessagesCount)) {
		texts = append(texts, "<invisible>")
	}
	return texts
}

// TestStorageQueuePoller runs every Storage Queue case against one
// azurite; each case uses its own queue.
func TestStorageQueuePoller(t *testing.T) {
	connStr := testenv.StartAzuriteQueue(t)
	t.Run("empty-queue back-off", func(t *testing.T) { testStorageQueueBackoff(t, connStr) })
	t.Run("Run stops promptly during a long idle wait", func(t *testing.T) { testStorageQueueRunStopsPromptly(t, connStr) })
	t.Run("queue created after start", func(t *testing.T) { testStorageQueueMissingQueue(t, connStr) })
	malformed := base64.StdEncoding.EncodeToString([]byte("{not json"))

	tests := []struct {
		name           string
		texts          []string
		maxDequeue     int
		sink           *recordingSink
		wantIDs        []string
		wantDeleted    int64
		wantPoisoned   int64
		wantDecodeErrs int64
		wantPoison     []string
		wantSinkCalls  int // -1: never called; 0: not checked
		preDequeues    int // dequeues by another consumer before the poller starts
	}{
		{
			name:        "event grid messages reach the sink and are deleted",
			texts:       []string{eventGridMessage("a1"), eventGridMessage("a2"), eventGridMessage("a3")},
			sink:        &recordingSink{},
			wantIDs:     []string{"a1", "a2", "a3"},
			wantDeleted: 3,
		},
		{
			name:           "malformed message goes to the poison queue at once",
			texts:          []string{malformed, eventGridMessage("b1")},
			sink:           &recordingSink{},
			wantIDs:        []string{"b1"},
			wantDeleted:    1,
			wantPoisoned:   1,
			wantDecodeErrs: 1,
			wantPoison:     []string{malformed},
		},
		{
			name:          "message whose accept keeps failing is poisoned after MaxDequeueCount tries",
			texts:         []string{eventGridMessage("c1")},
			maxDequeue:    2,
			sink:          &recordingSink{failAlways: true},
			wantPoisoned:  1,
			wantPoison:    []string{eventGridMessage("c1")},
			wantSinkCalls: 2,
		},
		{
			name:          "message already dequeued more than MaxDequeueCount times is poisoned unprocessed",
			texts:         []string{eventGridMessage("e1")},
			maxDequeue:    1,
			preDequeues:   2,
			sink:          &recordingSink{},
			wantPoisoned:  1,
			wantPoison:    []string{eventGridMessage("e1")},
			wantSinkCalls: -1,
		},
		{
			name:        "failed accept is retried after the visibility timeout",
			texts:       []string{eventGridMessage("d1")},
			sink:        &recordingSink{failFirst: 1},
			wantIDs:     []string{"d1"},
			wantDeleted: 1,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("plumb-events-%d", i)
			q := newAzQueue(t, connStr, name)
			for _, text := range tt.texts {
				if _, err := q.EnqueueMessage(context.Background(), text, nil); err != nil {
					t.Fatalf("enqueue: %v", err)
				}
			}
			for range tt.preDequeues {
				// A consumer that died holding the message: it becomes
				// visible again after one second with a higher count.
				waitFor(t, 10*time.Second, "a manual dequeue", func() bool {
					out, err := q.DequeueMessage(context.Background(), &azqueue.DequeueMessageOptions{VisibilityTimeout: ptr(int32(1))})
					if err != nil {
						t.Fatalf("dequeue: %v", err)
					}
					return len(out.Messages) == 1
				})
			}
			p, err := NewStorageQueue(StorageQueueConfig{
				Name: "azure-main", ConnectionString: connStr, Queue: name,
				VisibilityTimeout: time.Second, MaxPollingInterval: 200 * time.Millisecond,
				MaxDequeueCount: tt.maxDequeue, Base64: true,
			}, testDecode, tt.sink, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			stop := startRun(t, p.Run)
			waitFor(t, 30*time.Second, "messages settled", func() bool {
				s := p.Stats()
				return slices.Equal(tt.sink.ids(), tt.wantIDs) && s.Deleted >= tt.wantDeleted && s.Poisoned >= tt.wantPoisoned
			})
			stop()

			s := p.Stats()
			if s.Deleted != tt.wantDeleted || s.Poisoned != tt.wantPoisoned || s.DecodeErrors != tt.wantDecodeErrs {
				t.Errorf("stats = %+v, want Deleted %d Poisoned %d DecodeErrors %d", s, tt.wantDeleted, tt.wantPoisoned, tt.wantDecodeErrs)
			}
			if tt.wantSinkCalls < 0 && tt.sink.callCount() != 0 {
				t.Errorf("sink called %d times, want never", tt.sink.callCount())
			}
			if tt.wantSinkCalls > 0 && tt.sink.callCount() != tt.wantSinkCalls {
				t.Errorf("sink called %d times, want %d", tt.sink.callCount(), tt.wantSinkCalls)
			}
			if got := queueTexts(t, connStr, name); len(got) != 0 {
				t.Errorf("main queue still holds %q", got)
			}
			if got := queueTexts(t, connStr, name+"-poison"); !slices.Equal(got, tt.wantPoison) {
				t.Errorf("poison queue = %q, want %q", got, tt.wantPoison)
			}
			for _, src := range tt.sink.sources {
				if src != "azure-main" {
					t.Errorf("sink told source %q, want azure-main", src)
				}
			}
		})
	}
}

// testStorageQueueBackoff checks the empty-queue back-off against a real
// queue: waits double from 100ms to MaxPollingInterval and stay there, and
// a message resets them.
func testStorageQueueBackoff(t *testing.T, connStr string) {
	q := newAzQueue(t, connStr, "plumb-backoff")
	sink := &recordingSink{}
	p, err := NewStorageQueue(StorageQueueConfig{
		ConnectionString: connStr, Queue: "plumb-backoff", MaxPollingInterval: 400 * time.Millisecond, Base64: true,
	}, testDecode, sink, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		waits []time.Duration
	)
	p.onIdle = func(d time.Duration) {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
	}
	snapshot := func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(waits)
	}
	stop := startRun(t, p.Run)
	waitFor(t, 15*time.Second, "back-off to reach the cap", func() bool { return len(snapshot()) >= 5 })
	ms := time.Millisecond
	if got, want := snapshot()[:5], []time.Duration{100 * ms, 200 * ms, 400 * ms, 400 * ms, 400 * ms}; !slices.Equal(got, want) {
		t.Fatalf("idle waits = %v, want %v", got, want)
	}

	before := len(snapshot())
	if _, err := q.EnqueueMessage(context.Background(), eventGridMessage("x1"), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the message after a quiet spell", func() bool { return len(sink.ids()) == 1 })
	waitFor(t, 10*time.Second, "polling to go idle again", func() bool { return len(snapshot()) > before+1 })
	stop()
	after := snapshot()[before:]
	if i := slices.Index(after, 100*ms); i < 0 {
		t.Errorf("idle waits after a message = %v, want a reset to 100ms", after)
	}
}

func testStorageQueueRunStopsPromptly(t *testing.T, connStr string) {
	newAzQueue(t, connStr, "plumb-cancel")
	p, err := NewStorageQueue(StorageQueueConfig{
		ConnectionString: connStr, Queue: "plumb-cancel", MaxPollingInterval: time.Minute, Base64: true,
	}, testDecode, &recordingSink{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	long := make(chan struct{})
	var once sync.Once
	p.onIdle = func(d time.Duration) {
		if d >= 800*time.Millisecond {
			once.Do(func() { close(long) })
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-long:
	case <-time.After(15 * time.Second):
		t.Fatal("poller never reached a long idle wait")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Run took %s to stop", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
}

// testStorageQueueMissingQueue: the queue does not exist yet (Event Grid
// subscription not created). Run keeps retrying instead of exiting, and
// picks the queue up once it appears.
func testStorageQueueMissingQueue(t *testing.T, connStr string) {
	sink := &recordingSink{}
	p, err := NewStorageQueue(StorageQueueConfig{
		ConnectionString: connStr, Queue: "plumb-later", MaxPollingInterval: 200 * time.Millisecond, Base64: true,
	}, testDecode, sink, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := startRun(t, p.Run)
	time.Sleep(500 * time.Millisecond)
	q := newAzQueue(t, connStr, "plumb-later")
	if _, err := q.EnqueueMessage(context.Background(), eventGridMessage("l1"), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the message once the queue exists", func() bool { return len(sink.ids()) == 1 })
	stop()
}
