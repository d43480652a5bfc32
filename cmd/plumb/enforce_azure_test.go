package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"plumb/internal/enforce"
	enforceazure "plumb/internal/enforce/azure"
	"plumb/internal/findings"
	"plumb/internal/inventory/azure/armtest"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/server"
)

// TestEnforceAzureCLI: plumb enforce builds the Azure executor the way
// plumb serve does (server.Executors, the subscription from the
// environment's accounts) and, against the ARM test server: a dry run
// makes no write call, --apply quarantines a network security group
// (deny-all rules at the highest priority, the quarantine tag), and
// plumb enforce release FP puts it back exactly as it was.
func TestEnforceAzureCLI(t *testing.T) {
	const sub = "00000000-0000-0000-0000-0000000000cc"
	t.Setenv("AZURE_SUBSCRIPTION_ID", "")
	srv := armtest.New(t)
	srv.AddSubscription(sub)
	nsgID := "/subscriptions/" + sub + "/resourceGroups/app/providers/Microsoft.Network/networkSecurityGroups/by-hand"
	srv.PutNSG(armtest.NSG{ID: nsgID, Location: "westeurope", Tags: map[string]string{"owner": "alice"}, Rules: []armtest.Rule{{Name: "ssh",
		Properties: map[string]any{"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22", "sourceAddressPrefix": "*",
			"destinationAddressPrefix": "*", "access": "Allow", "priority": float64(300), "direction": "Inbound"}}}})
	before, _ := srv.GetNSG(nsgID)

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	statePath := filepath.Join(dir, "prod.tfstate")
	if err := os.WriteFile(statePath, []byte(`{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "az-prod", "outputs": {}, "resources": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "plumb.yaml")
	if err := os.WriteFile(cfgPath, []byte(`environments:
  - name: prod
    cloud: azure
    states: [`+statePath+`]
    accounts: ["`+sub+`"]
    enforcement: {unmanaged: quarantine, grace: 0s, max_actions: 5, max_fraction: 1, dry_run: false}
`), 0o644); err != nil {
		t.Fatal(err)
	}

	// The unmanaged finding a complete scan of prod stored and notified.
	scanned := time.Now().Add(-time.Hour).UTC()
	f := model.Finding{Kind: model.KindUnmanaged, Severity: model.SeverityMedium, Environment: "prod",
		Resource: model.Resource{Provider: "azure", Type: "azurerm_network_security_group", ID: nsgID, Name: "by-hand",
			Region: "westeurope", Account: sub, Tags: map[string]string{"owner": "alice"}},
		Changes: []model.Change{}, Message: "Undefined resource exists (by-hand)"}
	f.Fingerprint = model.Fingerprint(f.Kind, "prod", "azure", f.Resource.Type, f.Resource.Region, nsgID, "")
	storeFinding(t, dataDir, scanned, f)

	deps := enforceDeps{execOpts: server.ExecutorOptions{AzureCredential: armtest.Credential{}, AzureClient: srv.ClientOptions()}}
	enforceCLI := func(wantCode int, args ...string) []*enforce.Action {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := runWith(append(args, "--config", cfgPath, "--data-dir", dataDir, "-o", "json", "--actor", "e2e"), &stdout, &stderr, deps)
		if code != wantCode {
			t.Fatalf("plumb %v: exit %d, want %d\nstderr: %s\nstdout: %s", args, code, wantCode, stderr.String(), stdout.String())
		}
		var p enforce.Plan
		if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
			t.Fatalf("decode plan: %v\n%s", err, stdout.String())
		}
		return p.Actions
	}

	dry := enforceCLI(2, "enforce", "--env", "prod")
	if len(dry) != 1 || dry[0].State != enforce.StateBlocked || dry[0].Guard != enforce.GuardDryRun || dry[0].Verb != enforce.VerbQuarantine {
		t.Fatalf("dry run: %+v", dry)
	}
	if n := srv.Writes(); n != 0 {
		t.Fatalf("the dry run made %d write calls to ARM", n)
	}

	applied := enforceCLI(0, "enforce", "--env", "prod", "--apply")
	if len(applied) != 1 || applied[0].State != enforce.StateSucceeded {
		t.Fatalf("apply: %+v", applied)
	}
	q, _ := srv.GetNSG(nsgID)
	deny := map[string]bool{}
	for _, r := range q.Rules {
		if r.Properties["access"] == "Deny" && r.Properties["priority"] == float64(enforceazure.QuarantinePriority) {
			deny[r.Name] = true
		}
	}
	if !deny[enforceazure.RuleDenyInbound] || !deny[enforceazure.RuleDenyOutbound] || q.Tags[enforceazure.TagQuarantined] != f.Fingerprint {
		t.Errorf("after --apply the group is %+v", q)
	}

	released := enforceCLI(0, "enforce", "release", f.Fingerprint, "--reason", "codified")
	if len(released) != 1 || released[0].State != enforce.StateSucceeded || released[0].Verb != enforce.VerbRelease {
		t.Fatalf("release: %+v", released)
	}
	after, _ := srv.GetNSG(nsgID)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("released group differs from before the quarantine:\n got %+v\nwant %+v", after, before)
	}
	var log bytes.Buffer
	if code := runWith([]string{"enforce", "log", "--env", "prod", "--data-dir", dataDir}, &log, &log, deps); code != 0 ||
		!strings.Contains(log.String(), "release") || !strings.Contains(log.String(), "quarantine") {
		t.Errorf("plumb enforce log: exit %d\n%s", code, log.String())
	}
}

// storeFinding records f as found by a complete scan of its environment at
// `at`, and notified then, in the store of dataDir.
func storeFinding(t *testing.T, dataDir string, at time.Time, f model.Finding) {
	t.Helper()
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Reconcile(ctx, at, f.Environment, []model.Kind{model.KindUnmanaged}, []model.Finding{f},
		func(model.Finding) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkNotified(ctx, at, "team-hook", []string{f.Fingerprint}); err != nil {
		t.Fatal(err)
	}
}
