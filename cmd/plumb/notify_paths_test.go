package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/receivers"
	"plumb/internal/testenv"
)

const (
	pathsHookSecret  = "paths-hook-secret"
	pathsExternalURL = "https://plumb.example.com/console"
)

// bodyRecorder is a webhook endpoint that keeps the signed bodies it is
// sent.
type bodyRecorder struct {
	t      *testing.T
	mu     sync.Mutex
	bodies [][]byte
}

func newBodyRecorder(t *testing.T) (*bodyRecorder, string) {
	r := &bodyRecorder{t: t}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL + "/hook"
}

func (r *bodyRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, err := io.ReadAll(req.Body)
	if err == nil {
		err = receivers.VerifyWebhookSignature([]byte(pathsHookSecret), req.Header, b, time.Now(), time.Minute)
	}
	if err != nil {
		r.t.Errorf("webhook: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, b)
	r.mu.Unlock()
}

// bodyFor returns the first body carrying a finding for resource id, as
// JSON decoded into maps.
func (r *bodyRecorder) bodyFor(id string) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bodies {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("webhook body: %v", err)
		}
		fs, _ := m["findings"].([]any)
		for _, f := range fs {
			if res, _ := f.(map[string]any)["resource"].(map[string]any); res["id"] == id {
				return m
			}
		}
	}
	return nil
}

// pathsConfig writes the shared config with its blanks filled in.
func pathsConfig(t *testing.T, state, hookURL, amURL string) string {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("testdata", "notify", "paths.yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("STATE", state, "HOOK_URL", hookURL, "AM_URL", amURL).Replace(string(tmpl))
	p := filepath.Join(t.TempDir(), "plumb.yaml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	GeneratorURL string            `json:"generatorURL"`
}

// amAlertFor returns the alert an Alertmanager holds for resource id.
func amAlertFor(t *testing.T, base, id string) *amAlert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var as []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
		t.Fatalf("alertmanager alerts: %v", err)
	}
	for i := range as {
		if as[i].Labels["id"] == id {
			return &as[i]
		}
	}
	return nil
}

// comparable drops what legitimately differs between two notifications
// of one finding: when it was seen, how often, and so the delivery id.
func comparable(body map[string]any) map[string]any {
	delete(body, "delivery_id")
	fs, _ := body["findings"].([]any)
	for _, f := range fs {
		m := f.(map[string]any)
		for _, k := range []string{"first_seen", "last_seen", "count"} {
			delete(m, k)
		}
	}
	return body
}

// TestNotifyPathsSendIdenticalBodies: the same drift reaches the same
// receivers through plumb serve (a scheduled scan, the routing pass) and
// through plumb scan --notify, with the same config. The webhook bodies
// are identical but for sighting times, counts and the delivery id, both
// carry external_url, and both Alertmanager alerts carry it as
// generatorURL with the same labels and annotations.
func TestNotifyPathsSendIdenticalBodies(t *testing.T) {
	m := testenv.StartMoto(t)
	buckets := newNotifyBuckets(t, m)
	buckets.create("plumb-declared")
	buckets.create("plumb-stray")
	state, err := filepath.Abs(filepath.Join("testdata", "notify", "declared-bucket.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PLUMB_TEST_HOOK_SECRET", pathsHookSecret)
	t.Setenv("PLUMB_TEST_API_TOKEN", notifyAPITok)

	// plumb scan --notify.
	cliHook, cliHookURL := newBodyRecorder(t)
	cliAM := testenv.StartAlertmanager(t)
	cliCfg := pathsConfig(t, state, cliHookURL, cliAM)
	var stdout, stderr strings.Builder
	code := run([]string{"scan", "--config", cliCfg, "--notify", "--data-dir", filepath.Join(t.TempDir(), "data"), "--notify-wait", "60s",
		"--env", "prod", "--state", state, "--type", "aws_s3_bucket", "--region", "us-east-1", "-o", "json"}, &stdout, &stderr)
	if code != exitFindings {
		t.Fatalf("scan --notify: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "notification(s) sent") || strings.Contains(stderr.String(), "not delivered yet") {
		t.Fatalf("scan --notify did not deliver everything:\n%s", stderr.String())
	}

	// plumb serve, with the same config but its own receivers.
	srvHook, srvHookURL := newBodyRecorder(t)
	srvAM := testenv.StartAlertmanager(t)
	cfg, err := config.Load(pathsConfig(t, state, srvHookURL, srvAM), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, cfg)

	var fromCLI, fromServe map[string]any
	pollUntil(t, 30*time.Second, "scan --notify's webhook body", func() bool { fromCLI = cliHook.bodyFor("plumb-stray"); return fromCLI != nil })
	pollUntil(t, 120*time.Second, "plumb serve's webhook body", func() bool { fromServe = srvHook.bodyFor("plumb-stray"); return fromServe != nil })
	for name, b := range map[string]map[string]any{"scan --notify": fromCLI, "plumb serve": fromServe} {
		if b["external_url"] != pathsExternalURL {
			t.Errorf("%s: webhook external_url = %v, want %s", name, b["external_url"], pathsExternalURL)
		}
	}
	if a, b := comparable(fromCLI), comparable(fromServe); !reflect.DeepEqual(a, b) {
		ja, _ := json.MarshalIndent(a, "", " ")
		jb, _ := json.MarshalIndent(b, "", " ")
		t.Errorf("webhook bodies differ:\nscan --notify: %s\nplumb serve:   %s", ja, jb)
	}

	var cliAlert, srvAlert *amAlert
	pollUntil(t, 30*time.Second, "scan --notify's alert", func() bool { cliAlert = amAlertFor(t, cliAM, "plumb-stray"); return cliAlert != nil })
	pollUntil(t, 30*time.Second, "plumb serve's alert", func() bool { srvAlert = amAlertFor(t, srvAM, "plumb-stray"); return srvAlert != nil })
	for name, a := range map[string]*amAlert{"scan --notify": cliAlert, "plumb serve": srvAlert} {
		if a.GeneratorURL != pathsExternalURL {
			t.Errorf("%s: generatorURL = %q, want %s", name, a.GeneratorURL, pathsExternalURL)
		}
	}
	if !reflect.DeepEqual(cliAlert, srvAlert) {
		t.Errorf("alerts differ:\nscan --notify: %+v\nplumb serve:   %+v", *cliAlert, *srvAlert)
	}
}
