package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"plumb/internal/enforce"
	"plumb/internal/testenv"
)

// stallingProxy forwards every AWS call to moto, except the first one
// whose body holds stallOn: that one reaches moto (the change is made),
// then hit is closed and the answer never comes, so the caller is killed
// between the cloud's change and its record of it.
type stallingProxy struct {
	moto    string
	stallOn string
	hit     chan struct{}
	once    sync.Once
	calls   atomic.Int64
}

func (p *stallingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.moto+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(body), p.stallOn) {
		p.calls.Add(1)
		stall := false
		p.once.Do(func() { stall = true })
		if stall {
			close(p.hit)
			<-r.Context().Done() // the caller dies waiting
			return
		}
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

// TestE2EEventQuarantineSurvivesKill9: plumb serve is SIGKILLed while the
// event-time quarantine of a hand-made instance is in flight (moto made the
// change, plumb never heard back). Restarted on the same data, it finishes
// the action once: one quarantine record, succeeded, whose before-state is
// the instance's own groups, not the isolation group; and releasing it
// puts the instance back exactly as it was.
func TestE2EEventQuarantineSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test spawns servers")
	}
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	awsCfg := moto.Config(t, "us-east-1")
	instance := runInstance(t, ctx, awsCfg, map[string]string{"Name": "by-hand"})
	before := instanceState(t, ctx, awsCfg, instance)
	originalGroups := describeInstance(t, ctx, awsCfg, instance).SecurityGroups
	url := eventBridgeToSQS(t, awsCfg, "plumb-crash", "aws.ec2")

	proxy := &stallingProxy{moto: moto.Endpoint, stallOn: "Action=ModifyInstanceAttribute", hit: make(chan struct{})}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	// The children reach AWS through the proxy; this test's own clients
	// go to moto directly.
	t.Setenv("AWS_ENDPOINT_URL", ps.URL)

	dir := t.TempDir()
	state := filepath.Join(dir, "prod.tfstate")
	writeFile(t, state, emptyTFState)
	cfgPath := filepath.Join(dir, "plumb.yaml")
	yaml := strings.Replace(fmt.Sprintf(eventEnforceConfig, state, deployRoleARN, 10, url), "{env: TOKEN}", "{env: CRASH_TOKEN}", 1)
	writeFile(t, cfgPath, yaml)
	data := filepath.Join(dir, "data")

	c := startChild(t, cfgPath, data)
	putEvents(t, awsCfg, ebEntry{"aws.ec2", "AWS API Call via CloudTrail", runInstancesDetail(t, aliceIdentity, instance)})
	select {
	case <-proxy.hit:
	case err := <-c.done:
		t.Fatalf("server exited before the quarantine: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("the quarantine's ModifyInstanceAttribute never came")
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.done
	if got := describeInstance(t, ctx, awsCfg, instance).SecurityGroups; len(got) != 1 || aws.ToString(got[0].GroupName) != "plumb-isolation" {
		t.Fatalf("moto did not make the change before the kill: %+v", got)
	}

	c2 := startChild(t, cfgPath, data)
	ts := &testServer{t: t, url: "http://" + c2.addr}
	var mine []enforce.Action
	waitForDeadline(t, 90*time.Second, "the quarantine to finish after the restart", func() bool {
		var page struct {
			Actions []enforce.Action `json:"actions"`
		}
		ts.apiGet("/v1/actions?environment=prod", &page)
		mine = mine[:0]
		done := false
		for _, a := range page.Actions {
			if a.Resource.ID == instance && a.Verb == enforce.VerbQuarantine {
				mine = append(mine, a)
				done = done || a.State == enforce.StateSucceeded
			}
		}
		return done
	})
	if len(mine) != 1 {
		t.Fatalf("%d quarantine records of the instance, want 1: %+v", len(mine), mine)
	}
	q := mine[0]
	var saved struct {
		SecurityGroups []string `json:"security_groups"`
	}
	if err := json.Unmarshal(q.Before, &saved); err != nil {
		t.Fatalf("before-state %s: %v", q.Before, err)
	}
	if len(saved.SecurityGroups) != len(originalGroups) {
		t.Fatalf("saved groups %v, want the instance's own %d", saved.SecurityGroups, len(originalGroups))
	}
	for i, g := range originalGroups {
		if saved.SecurityGroups[i] != aws.ToString(g.GroupId) {
			t.Errorf("saved group %d is %s, want %s (the before-state was taken again after the change)", i, saved.SecurityGroups[i], aws.ToString(g.GroupId))
		}
	}
	if n := proxy.calls.Load(); n < 2 {
		t.Errorf("ModifyInstanceAttribute called %d times: the resumed action did not run", n)
	}
	fs := ts.findings("kind=drift.unmanaged")
	if len(fs) != 1 || fs[0].Count != 1 {
		t.Errorf("findings after the crash %+v", fs)
	}

	resp, b := ts.do("POST", "/v1/enforce/release", bearer(testToken), mustJSON(t, map[string]string{"finding": q.Fingerprint, "actor": "ops"}))
	if resp.StatusCode != 202 {
		t.Fatalf("release: %d %s", resp.StatusCode, b)
	}
	waitForDeadline(t, 60*time.Second, "the release to restore the instance", func() bool {
		return instanceState(t, ctx, awsCfg, instance) == before
	})
}
