package testenv

import (
	"bytes"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Fault is an error answer a FaultProxy gives instead of forwarding.
type Fault struct {
	Status  int
	Headers map[string]string
	Body    string
	// Hangup closes the connection without any answer, as a proxy or a
	// crashing server does.
	Hangup bool
}

// FaultFunc decides, for the nth request (1-based) to an AWS service, whether
// to answer with a fault. Returning nil forwards the request to moto.
type FaultFunc func(service string, n int) *Fault

var credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request`)

// FaultProxy puts a reverse proxy in front of moto that injects AWS error
// answers (throttling, access denied) chosen by fn. The service is read
// from the SigV4 credential scope, as AWS itself routes. Point
// AWS_ENDPOINT_URL at the returned URL.
func FaultProxy(t testing.TB, target string, fn FaultFunc) string {
	t.Helper()
	var (
		mu     sync.Mutex
		counts = map[string]int{}
	)
	return RequestFaultProxy(t, target, func(service string, _ url.Values) *Fault {
		mu.Lock()
		counts[service]++
		n := counts[service]
		mu.Unlock()
		return fn(service, n)
	})
}

// RequestFaultFunc decides from a request's service and its form
// parameters (query-protocol services such as STS send the action and
// its parameters as a form) whether to answer with a fault.
type RequestFaultFunc func(service string, form url.Values) *Fault

// RequestFaultProxy is FaultProxy deciding on the request's parameters:
// an AssumeRole of one role refused, the others forwarded to moto.
func RequestFaultProxy(t testing.TB, target string, fn RequestFaultFunc) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service := ""
		if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			service = m[1]
		}
		form := r.URL.Query()
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Errorf("fault proxy: read %s: %v", r.URL, err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if parsed, err := url.ParseQuery(string(body)); err == nil {
				for k, v := range parsed {
					form[k] = v
				}
			}
		}
		if f := fn(service, form); f != nil && f.Hangup {
			// Read the whole request first: closing with unread bytes in
			// the socket makes the kernel send a reset instead of an
			// orderly close, and the client would see "connection
			// reset" some of the time.
			_, _ = io.Copy(io.Discard, r.Body)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			t.Errorf("fault proxy: cannot hang up on %s", r.URL)
			return
		} else if f != nil {
			for k, v := range f.Headers {
				w.Header().Set(k, v)
			}
			// DynamoDB signs every answer with a CRC32 of its body, and
			// the SDK checks it.
			w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(f.Body))), 10))
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// AccessDeniedJSON is the answer of an AWS JSON-protocol service (DynamoDB,
// KMS, Logs, ECR, ...) to a caller without permission.
func AccessDeniedJSON() *Fault {
	return &Fault{
		Status:  400,
		Headers: map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amzn-ErrorType": "AccessDeniedException"},
		Body:    `{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: dynamodb:ListTables"}`,
	}
}

// ThrottledJSON is the throttling answer of an AWS JSON-protocol service.
func ThrottledJSON() *Fault {
	return &Fault{
		Status:  400,
		Headers: map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amzn-ErrorType": "ThrottlingException"},
		Body:    `{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}`,
	}
}

// ThrottledQuery is the throttling answer of an AWS query-protocol service
// (EC2 answers RequestLimitExceeded in this shape).
func ThrottledQuery() *Fault {
	return &Fault{
		Status:  503,
		Headers: map[string]string{"Content-Type": "text/xml"},
		Body:    `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>1</RequestID></Response>`,
	}
}

// AssumeRoleDenied is STS's answer (query protocol, HTTP 403) to an
// AssumeRole the role's trust policy does not allow.
func AssumeRoleDenied(roleARN string) *Fault {
	return &Fault{
		Status:  403,
		Headers: map[string]string{"Content-Type": "text/xml"},
		Body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>` +
			`<Message>User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on resource: ` + roleARN + `</Message>` +
			`</Error><RequestId>7e1c2f0e-5b7d-4c1e-9a0f-2d3b4c5d6e7f</RequestId></ErrorResponse>`,
	}
}
