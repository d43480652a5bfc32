// Package azure carries out enforcement actions on Azure through Azure
// Resource Manager: quarantine and release of network security groups
// (a highest-priority deny-all rule each way) and virtual machines (an
// isolation network security group on each of their network interfaces).
// Delete is not offered: no real ARM peer can run in tests, and a delete
// that was only ever tested against a fake is not one to trust.
//
// Every request goes through a pipeline policy that records it on the
// action being executed (method and ARM resource type as the operation,
// GET a read, anything else a write).
package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// API versions of the calls made, from the REST references.
const (
	// APINetwork is the Microsoft.Network api-version (network security
	// groups, their securityRules, network interfaces).
	APINetwork = "2024-03-01"
	// APICompute is the Microsoft.Compute api-version (virtual machines).
	APICompute = "2024-07-01"
	// APISubscriptions is the api-version of Subscriptions - Get.
	APISubscriptions = "2022-12-01"
)

// Tags and names plumb uses for quarantine on Azure.
const (
	// TagQuarantined marks every quarantined resource; its value is the
	// finding's fingerprint.
	TagQuarantined = "plumb:quarantined"
	// TagIsolation marks an isolation network security group.
	TagIsolation = "plumb:isolation"
	// TagProtect keeps enforcement off the isolation groups.
	TagProtect = "plumb:protect"
	// RuleDenyInbound and RuleDenyOutbound are the deny-all rules a
	// quarantine puts on a network security group.
	RuleDenyInbound  = "plumb-quarantine-deny-inbound"
	RuleDenyOutbound = "plumb-quarantine-deny-outbound"
	// IsolationGroupPrefix names the isolation network security group of
	// a resource group and location: plumb-isolation-LOCATION.
	IsolationGroupPrefix = "plumb-isolation-"
	// QuarantinePriority is the highest priority ARM allows a rule.
	QuarantinePriority = 100
)

const (
	typeNSG = "azurerm_network_security_group"
	typeVM  = "azurerm_virtual_machine"
)

// vmTypes are the azurerm names of a virtual machine.
var vmTypes = map[string]bool{typeVM: true, "azurerm_linux_virtual_machine": true, "azurerm_windows_virtual_machine": true}

// Options configure an Executor.
type Options struct {
	// Subscription is the subscription plumb's credentials act in (the
	// account guard compares it with the environment's accounts).
	// Empty: AZURE_SUBSCRIPTION_ID.
	Subscription string
	// Credential authenticates requests; nil uses
	// azidentity.NewDefaultAzureCredential.
	Credential azcore.TokenCredential
	// ClientOptions point the client at another ARM endpoint (tests).
	ClientOptions *arm.ClientOptions
	// Wait bounds each long-running ARM operation (default 10 min).
	Wait time.Duration
}

// Executor is the Azure enforce.Executor. Safe for concurrent use.
type Executor struct {
	client *armresources.Client
	sub    string
	wait   time.Duration
	reads  atomic.Int64
	writes atomic.Int64
}

var _ enforce.Executor = (*Executor)(nil)

type recorderKey struct{}

// New builds the executor over ARM.
func New(opts Options) (*Executor, error) {
	e := &Executor{sub: strings.TrimSpace(opts.Subscription), wait: opts.Wait}
	if e.wait <= 0 {
		e.wait = 10 * time.Minute
	}
	var co arm.ClientOptions
	if opts.ClientOptions != nil {
		co = *opts.ClientOptions
	}
	// Registering a resource provider is a write plumb never asked for.
	co.DisableRPRegistration = true
	co.PerRetryPolicies = append(append([]policy.Policy(nil), co.PerRetryPolicies...), callRecorder{e: e})
	cred := opts.Credential
	if cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: policy.ClientOptions{Cloud: co.Cloud, Transport: co.Transport}})
		if err != nil {
			return nil, fmt.Errorf("azure credentials: %w", err)
		}
		cred = c
	}
	client, err := armresources.NewClient("", cred, &co)
	if err != nil {
		return nil, fmt.Errorf("azure resource manager client: %w", err)
	}
	e.client = client
	return e, nil
}

// callRecorder counts every request and records it on the action.
type callRecorder struct{ e *Executor }

// Do implements policy.Policy.
func (p callRecorder) Do(req *policy.Request) (*http.Response, error) {
	write := req.Raw().Method != http.MethodGet
	if write {
		p.e.writes.Add(1)
	} else {
		p.e.reads.Add(1)
	}
	resp, err := req.Next()
	if rec, ok := req.Raw().Context().Value(recorderKey{}).(enforce.Recorder); ok {
		c := enforce.Call{At: time.Now().UTC(), Service: "ARM", Operation: req.Raw().Method + " " + armTypeOf(req.Raw().URL.Path), Write: write}
		if err != nil {
			c.Error = err.Error()
		} else if resp.StatusCode >= 400 {
			c.Error = resp.Status
		}
		rec.Call(c)
	}
	return resp, err
}

// armTypeOf names the resource type of an ARM path
// (Microsoft.Network/networkSecurityGroups/securityRules).
func armTypeOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if strings.EqualFold(p, "providers") && i+2 < len(parts) {
			out := parts[i+1] + "/" + parts[i+2]
			for j := i + 4; j < len(parts); j += 2 {
				out += "/" + parts[j]
			}
			return out
		}
	}
	if len(parts) == 2 && strings.EqualFold(parts[0], "subscriptions") {
		return "subscriptions"
	}
	return path
}

// Calls returns how many read and write requests the executor sent.
func (e *Executor) Calls() (reads, writes int64) { return e.reads.Load(), e.writes.Load() }

// Provider implements enforce.Executor.
func (e *Executor) Provider() string { return "azure" }

// Supports implements enforce.Executor: quarantine and release of network
// security groups and virtual machines; no delete on Azure.
func (e *Executor) Supports(verb enforce.Verb, typ string) bool {
	if verb != enforce.VerbQuarantine && verb != enforce.VerbRelease {
		return false
	}
	return typ == typeNSG || vmTypes[typ]
}

// Rank implements enforce.Executor: virtual machines before network
// security groups, as on AWS.
func (e *Executor) Rank(_ enforce.Verb, typ string) int {
	if vmTypes[typ] {
		return 10
	}
	return 30
}

// Caller implements enforce.Executor: the configured subscription, once
// ARM confirms the credentials can read it (Subscriptions - Get).
func (e *Executor) Caller(ctx context.Context) (string, error) {
	if e.sub == "" {
		return "", errors.New("no Azure subscription: set AZURE_SUBSCRIPTION_ID")
	}
	if _, err := e.getByID(ctx, "/subscriptions/"+e.sub, APISubscriptions); err != nil {
		return "", fmt.Errorf("azure subscription %s: %s", e.sub, errorText(err))
	}
	return e.sub, nil
}

// getByID reads any ARM object as a generic resource.
func (e *Executor) getByID(ctx context.Context, id, api string) (armresources.GenericResource, error) {
	resp, err := e.client.GetByID(ctx, id, api, nil)
	if err != nil {
		return armresources.GenericResource{}, err
	}
	return resp.GenericResource, nil
}

func apiOf(typ string) string {
	if vmTypes[typ] {
		return APICompute
	}
	return APINetwork
}

// Read implements enforce.Executor: one GET by id per resource. A 404 is
// gone; the account is the subscription in the id, the region the
// location; a resource another Azure resource manages (managedBy) is
// marked as a default, which the aws-default guard stops.
func (e *Executor) Read(ctx context.Context, rs []model.Resource) (map[string]model.Resource, map[string]error, error) {
	found := map[string]model.Resource{}
	unknown := map[string]error{}
	for _, r := range rs {
		k := enforce.ResourceKey(r)
		if !e.Supports(enforce.VerbQuarantine, r.Type) {
			unknown[k] = fmt.Errorf("plumb cannot read %s resources", r.Type)
			continue
		}
		g, err := e.getByID(ctx, r.ID, apiOf(r.Type))
		if isNotFound(err) {
			continue
		}
		if err != nil {
			unknown[k] = errors.New(errorText(err))
			continue
		}
		live := model.Resource{Provider: "azure", Type: r.Type, ID: r.ID, Account: subscriptionOf(r.ID),
			Region: deref(g.Location), Name: deref(g.Name), Tags: tagMap(g.Tags)}
		if m := deref(g.ManagedBy); m != "" {
			live.Default = "managed by " + m
		}
		found[k] = live
	}
	return found, unknown, nil
}

// Check implements enforce.Executor.
func (e *Executor) Check(ctx context.Context, a *enforce.Action, live model.Resource, _ plumbconfig.Enforcement, _ func(typ, id string) bool) (string, error) {
	if a.Verb != enforce.VerbQuarantine {
		return "", nil
	}
	if vmTypes[a.Resource.Type] {
		vm, err := e.getByID(ctx, live.ID, APICompute)
		if isNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", errors.New(errorText(err))
		}
		if len(nicIDs(vm)) == 0 {
			return "the virtual machine has no network interface to isolate", nil
		}
		return "", nil
	}
	nsg, err := e.getByID(ctx, live.ID, APINetwork)
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", errors.New(errorText(err))
	}
	for _, r := range rulesOf(nsg) {
		if r.priority == QuarantinePriority && r.name != RuleDenyInbound && r.name != RuleDenyOutbound {
			return fmt.Sprintf("rule %s holds priority %d (%s): a deny-all could not come first", r.name, QuarantinePriority, r.direction), nil
		}
	}
	return "", nil
}

// Execute implements enforce.Executor: quarantine or release.
func (e *Executor) Execute(ctx context.Context, a *enforce.Action, _ plumbconfig.Enforcement, rec enforce.Recorder) (string, error) {
	if !e.Supports(a.Verb, a.Resource.Type) {
		return "", enforce.Permanent(fmt.Errorf("plumb cannot %s %s on Azure", a.Verb, a.Resource.Type))
	}
	ctx = context.WithValue(ctx, recorderKey{}, rec)
	var (
		state any
		gone  bool
		err   error
	)
	if vmTypes[a.Resource.Type] {
		state, gone, err = e.readVM(ctx, a.Resource.ID)
	} else {
		state, gone, err = e.readNSG(ctx, a.Resource.ID)
	}
	if err != nil {
		return "", fmt.Errorf("read before acting: %s", errorText(err))
	}
	if gone {
		return "already gone", nil
	}
	stored, err := rec.SaveBefore(ctx, state)
	if err != nil {
		return "", err
	}
	var result string
	switch {
	case a.Verb == enforce.VerbRelease && len(a.Restore) == 0:
		return "", enforce.Permanent(errors.New("the release carries no saved state to restore"))
	case a.Verb == enforce.VerbRelease && vmTypes[a.Resource.Type]:
		result, err = e.releaseVM(ctx, a.Restore)
	case a.Verb == enforce.VerbRelease:
		result, err = e.releaseNSG(ctx, a.Restore)
	case vmTypes[a.Resource.Type]:
		result, err = e.quarantineVM(ctx, a, stored)
	default:
		result, err = e.quarantineNSG(ctx, a, stored)
	}
	if err != nil {
		if isNotFound(err) {
			return "already gone", nil
		}
		if enforce.IsPermanent(err) {
			return "", err
		}
		return "", errors.New(errorText(err))
	}
	return result, nil
}

// put creates or replaces an ARM object and waits for ARM to finish.
func (e *Executor) put(ctx context.Context, id, api string, body armresources.GenericResource) error {
	p, err := e.client.BeginCreateOrUpdateByID(ctx, id, api, body, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.wait)
	defer cancel()
	_, err = p.PollUntilDone(ctx, &runtimePollOptions)
	return err
}

// patchTags replaces an object's tags (PATCH with only tags, which ARM's
// Update Tags operations take).
func (e *Executor) patchTags(ctx context.Context, id, api string, tags map[string]string) error {
	p, err := e.client.BeginUpdateByID(ctx, id, api, armresources.GenericResource{Tags: tagPtrs(tags)}, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.wait)
	defer cancel()
	_, err = p.PollUntilDone(ctx, &runtimePollOptions)
	return err
}

// del deletes an ARM object; one already gone is a success.
func (e *Executor) del(ctx context.Context, id, api string) error {
	p, err := e.client.BeginDeleteByID(ctx, id, api, nil)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.wait)
	defer cancel()
	_, err = p.PollUntilDone(ctx, &runtimePollOptions)
	if isNotFound(err) {
		return nil
	}
	return err
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// errorText keeps ARM's error code and status, not the SDK's wrapping.
func errorText(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("%s (HTTP %d)", re.ErrorCode, re.StatusCode)
	}
	return err.Error()
}

// subscriptionOf is the subscription id of an ARM id, "" when it has none.
func subscriptionOf(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) >= 2 && strings.EqualFold(parts[0], "subscriptions") {
		return parts[1]
	}
	return ""
}

// groupID is the resource group id of an ARM id.
func groupID(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) >= 4 && strings.EqualFold(parts[2], "resourceGroups") {
		return "/" + strings.Join(parts[:4], "/")
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func tagMap(in map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		out[k] = deref(v)
	}
	return out
}

func tagPtrs(in map[string]string) map[string]*string {
	out := map[string]*string{}
	for k, v := range in {
		out[k] = &v
	}
	return out
}
