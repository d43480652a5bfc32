package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"plumb/internal/inventory"
	"plumb/internal/testenv"
)

// unavailableCred is a credential chain that found nothing to use, as
// DefaultAzureCredential reports it (azidentity's own error type).
type unavailableCred struct{}

func (unavailableCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, azidentity.NewCredentialUnavailableError("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing environment variable AZURE_TENANT_ID")
}

// fakeEntra answers as Microsoft Entra ID does for a client secret it
// does not accept: the tenant's OpenID configuration, then HTTP 401
// invalid_client on the token request (the documented error shape).
func fakeEntra(t *testing.T) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := srv.URL + "/" + testTenant
		switch {
		case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"token_endpoint":%q,"authorization_endpoint":%q,"issuer":%q}`,
				base+"/oauth2/v2.0/token", base+"/oauth2/v2.0/authorize", base+"/v2.0")
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_secret") == "" {
				t.Errorf("unexpected token request %v", r.PostForm)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 0\r\nCorrelation ID: 0","error_codes":[7000215]}`)
		default:
			t.Errorf("unexpected request %s", r.URL)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const testTenant = "00000000-0000-0000-0000-0000000000aa"

// TestTokenGate: when no token can be had, New fails within seconds with
// one AccessError in the user's words and lists nothing.
func TestTokenGate(t *testing.T) {
	entra := fakeEntra(t)
	closed := strings.Replace(testenv.ClosedPort(t), "http://", "https://", 1)
	secretCred := func(authority string, transport policy.Transporter) azcore.TokenCredential {
		c, err := azidentity.NewClientSecretCredential(testTenant, "11111111-1111-1111-1111-111111111111", "wrong-secret",
			&azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true,
				ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: authority + "/"},
					Transport: transport, Retry: policy.RetryOptions{MaxRetries: -1}}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name   string
		cred   azcore.TokenCredential
		reason string
		want   string
	}{
		{"no credentials", unavailableCred{}, inventory.AccessNoCredentials,
			"no Azure credentials found: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or a workload or managed identity), or run `az login`"},
		{"refused", secretCred(entra.URL, entra.Client()), inventory.AccessRefused,
			"Azure refused the credentials: HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided."},
		{"unreachable", secretCred(closed, http.DefaultClient), inventory.AccessUnreachable, "cannot reach Azure to sign in at " + closed + ": connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeARM(t, 10)
			f.subs[subA] = estate(subA)
			opts := f.options(subA)
			opts.Credential = tc.cred
			opts.TokenTimeout = 5 * time.Second
			start := time.Now()
			_, err := New(context.Background(), opts)
			var ae *inventory.AccessError
			if !errors.As(err, &ae) {
				t.Fatalf("New = %v, want an AccessError", err)
			}
			if ae.Reason != tc.reason || ae.Error() != tc.want {
				t.Errorf("error = %s %q\nwant    %s %q ", ae.Reason, ae.Error(), tc.reason, tc.want)
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("took %s", took)
			}
			if n := f.total(); n != 0 {
				t.Errorf("%d ARM requests after a failed sign-in", n)
			}
		})
	}
}
