package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"plumb/internal/inventory"
)

// checkToken acquires a token for Azure Resource Manager before anything
// is listed: the identity check of an Azure scan. It fails within
// Options.TokenTimeout with one *inventory.AccessError in the user's
// words instead of the credential chain's multi-line report repeated per
// subscription.
func (s *Scanner) checkToken(ctx context.Context) error {
	timeout := s.opts.TokenTimeout
	if timeout <= 0 {
		timeout = defaultTokenTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := s.client.Cloud
	if len(c.Services) == 0 {
		c = cloud.AzurePublic
	}
	audience := strings.TrimSuffix(c.Services[cloud.ResourceManager].Audience, "/")
	_, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{audience + "/.default"}})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("azure identity check: %w", ctx.Err())
	}
	return tokenError(err, ctx.Err() != nil, timeout)
}

// tokenError classifies a failed token request.
func tokenError(err error, timedOut bool, timeout fmt.Stringer) error {
	var failed *azidentity.AuthenticationFailedError
	switch {
	case timedOut:
		return &inventory.AccessError{Provider: "azure", Reason: inventory.AccessUnreachable, Err: err,
			Message: fmt.Sprintf("cannot reach Azure to sign in: no token within %s", timeout)}
	case errors.As(err, &failed) && failed.RawResponse != nil:
		return &inventory.AccessError{Provider: "azure", Reason: inventory.AccessRefused, Err: err,
			Message: "Azure refused the credentials: " + tokenRefusal(failed.RawResponse)}
	case unreachableText(err.Error()) != "":
		msg := "cannot reach Azure to sign in"
		if host := hostIn.FindString(err.Error()); host != "" {
			msg += " at " + host
		}
		return &inventory.AccessError{Provider: "azure", Reason: inventory.AccessUnreachable, Err: err,
			Message: msg + ": " + unreachableText(err.Error())}
	case errors.As(err, &failed):
		return &inventory.AccessError{Provider: "azure", Reason: inventory.AccessRefused, Err: err,
			Message: "Azure sign-in failed: " + firstLine(err.Error())}
	}
	return &inventory.AccessError{Provider: "azure", Reason: inventory.AccessNoCredentials, Err: err,
		Message: "no Azure credentials found: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or a workload or managed identity), or run `az login`"}
}

// tokenRefusal reads Microsoft Entra ID's error answer: its status, error
// code and the first line of its description (AADSTS7000215: ...).
func tokenRefusal(resp *http.Response) string {
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if resp.Body == nil {
		return msg
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return msg
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg += " " + e.Error
		if d := firstLine(e.Description); d != "" {
			msg += ": " + d
		}
	}
	return msg
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

// unreachableText finds a network failure in a credential's message (MSAL
// reports them as text, not as wrapped errors) and returns it, or "".
func unreachableText(msg string) string {
	for _, sign := range []string{"connection refused", "connection reset", "no such host", "i/o timeout", "no route to host", "context deadline exceeded"} {
		if strings.Contains(msg, sign) {
			return sign
		}
	}
	return ""
}

// hostIn finds the first URL's scheme and host in an error text.
var hostIn = regexp.MustCompile(`https?://[^/\s"']+`)

type unitKey struct{}

// withUnit tags a context with the subscription its requests read.
func withUnit(ctx context.Context, unit string) context.Context {
	return context.WithValue(ctx, unitKey{}, unit)
}

// callState numbers the attempts of one request.
type callState struct {
	mu      sync.Mutex
	attempt int
	lastErr string
}

type callKey struct{}

// callStart gives each request a fresh attempt counter.
type callStart struct{}

// Do implements policy.Policy.
func (callStart) Do(req *policy.Request) (*http.Response, error) {
	ctx := context.WithValue(req.Raw().Context(), callKey{}, &callState{})
	return req.Clone(ctx).Next()
}

// attemptObserver tells the scan's observer which request a subscription
// is waiting on, and why the previous attempt failed.
type attemptObserver struct{ s *Scanner }

// Do implements policy.Policy.
func (o attemptObserver) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	unit, _ := ctx.Value(unitKey{}).(string)
	st, _ := ctx.Value(callKey{}).(*callState)
	if unit == "" || st == nil || o.s.opts.Observer == nil {
		return req.Next()
	}
	st.mu.Lock()
	st.attempt++
	n, last := st.attempt, st.lastErr
	st.mu.Unlock()
	o.s.opts.Observer.Attempt(unit, operationName(req.Raw()), n, last)
	resp, err := req.Next()
	st.mu.Lock()
	switch {
	case err != nil:
		st.lastErr = firstLine(err.Error())
	case resp.StatusCode >= 400:
		st.lastErr = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	st.mu.Unlock()
	return resp, err
}

// operationName names an ARM request by its method and the resource
// collections it reads below the subscription and resource group (GET
// resources, GET virtualNetworks/subnets, GET resourcegroups).
func operationName(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var kept []string
	last := ""
	// Collection names and object names alternate; a provider namespace
	// (providers/Microsoft.Network) is a pair of its own.
	for i := 0; i < len(parts); i += 2 {
		seg := parts[i]
		if strings.EqualFold(seg, "providers") {
			// The namespace sits where an object name would.
			continue
		}
		last = seg
		if !strings.EqualFold(seg, "subscriptions") && !strings.EqualFold(seg, "resourceGroups") {
			kept = append(kept, seg)
		}
	}
	if len(kept) == 0 {
		kept = []string{last}
	}
	if len(kept) > 2 {
		kept = kept[len(kept)-2:]
	}
	return r.Method + " " + strings.Join(kept, "/")
}
