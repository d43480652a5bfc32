package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/testenv"
)

// TestUnitListersRunSideBySide: the listers of one (service, region) unit
// run at the same time, up to PerUnitConcurrency: each lister here waits
// until all of them have started, which never happens if they run one
// after another. With a limit below their number, at most that many run
// at once, and every one still runs.
func TestUnitListersRunSideBySide(t *testing.T) {
	testenv.StartMoto(t) // the identity check before listing
	tests := []struct {
		name    string
		listers int
		limit   int
		barrier bool
	}{
		{"all at once", 6, 8, true},
		{"bounded", 6, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			sc, err := New(ctx, Options{Regions: []string{"us-east-1"}, PerUnitConcurrency: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu       sync.Mutex
				running  int
				peak     int
				started  sync.WaitGroup
				released = make(chan struct{})
			)
			started.Add(tc.listers)
			go func() { started.Wait(); close(released) }()
			sc.listers = nil
			for i := 0; i < tc.listers; i++ {
				name := fmt.Sprintf("aws_test_type_%d", i)
				sc.listers = append(sc.listers, lister{
					Type: inventory.Type{Name: name, Service: "ec2"},
					list: func(ctx context.Context, _ *session, _ string) ([]model.Resource, error) {
						mu.Lock()
						running++
						peak = max(peak, running)
						mu.Unlock()
						defer func() { mu.Lock(); running--; mu.Unlock() }()
						started.Done()
						if tc.barrier {
							select {
							case <-released:
							case <-time.After(20 * time.Second):
								return nil, errors.New("the unit's other listers never started")
							}
						} else {
							time.Sleep(20 * time.Millisecond)
						}
						return []model.Resource{{ID: name}}, nil
					},
				})
			}
			res, err := sc.Scan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %+v", res.Errors)
			}
			if len(res.Resources) != tc.listers {
				t.Errorf("%d resources, want one per lister (%d)", len(res.Resources), tc.listers)
			}
			if peak > tc.limit {
				t.Errorf("%d listers ran at once, limit %d", peak, tc.limit)
			}
			if tc.barrier && peak != tc.listers {
				t.Errorf("peak %d listers at once, want all %d", peak, tc.listers)
			}
		})
	}
}
