// Package testenv starts the real peers plumb's tests talk to (moto_server
// for AWS, the terraform binary) on 127.0.0.1. A peer that is not installed
// fails the test under CI=true and skips it elsewhere, so CI can never pass
// by silently skipping.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
)

// Moto is a running moto_server.
type Moto struct {
	Endpoint string
	Port     int
	logPath  string
}

// Require skips (locally) or fails (CI=true) when a binary is missing.
func Require(t testing.TB, bin string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true but not on PATH (make setup installs it, or says how; make test puts what it installed on PATH): %v", bin, err)
		}
		t.Skipf("%s not installed (make setup installs it, or says how): %v", bin, err)
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartMoto starts moto_server on a free port and stops it when the test
// ends. It also points the standard AWS environment (AWS_ENDPOINT_URL,
// dummy credentials, region us-east-1) at it for the rest of the test, so
// code under test loads its configuration exactly as in production.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	bin := Require(t, "moto_server")
	m, stop, err := startMoto(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			m.logTail(t)
		}
		stop()
	})
	for k, v := range m.Env() {
		t.Setenv(k, v)
	}
	return m
}

// StartMotoProcess starts moto_server outside a test (benchmarks, the demo
// driver). The caller must call stop.
func StartMotoProcess() (*Moto, func(), error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, nil, fmt.Errorf("moto_server (the AWS emulator, moto[server] 5.2) is not on PATH: run make setup, which installs it or says how: %w", err)
	}
	return startMoto(bin)
}

func startMoto(bin string) (*Moto, func(), error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		m, stop, err := startMotoOn(bin, port)
		if err != nil {
			lastErr = err
			continue
		}
		return m, stop, nil
	}
	return nil, nil, lastErr
}

// StartMotoAt starts moto_server on a given port, for tests of a client
// that was pointed at the port while nothing listened there (a peer that
// comes up late). Unlike StartMoto it leaves the AWS environment alone:
// the test set it up when it chose the port. moto is stopped when the
// test ends.
func StartMotoAt(t testing.TB, port int) *Moto {
	t.Helper()
	bin := Require(t, "moto_server")
	m, stop, err := startMotoOn(bin, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			m.logTail(t)
		}
		stop()
	})
	return m
}

// logTail shows the end of moto's own log, which tells a dropped
// connection or a server error apart from a product bug.
func (m *Moto) logTail(t testing.TB) {
	if b, err := os.ReadFile(m.logPath); err == nil {
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("moto_server log (tail):\n%s", b)
	}
}

func startMotoOn(bin string, port int) (*Moto, func(), error) {
	logf, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	// moto runs botocore, which reads the AWS environment: a test that
	// pointed it at moto (AWS_PROFILE="" among others) must not break
	// moto itself.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("start moto_server: %w", err)
	}
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Port: port, logPath: logf.Name()}
	stop := func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		logf.Close()
		os.Remove(logf.Name())
	}
	if err := waitHTTP(m.Endpoint+"/moto-api/", 30*time.Second); err != nil {
		stop()
		return nil, nil, fmt.Errorf("moto_server on port %d did not come up: %w", port, err)
	}
	return m, stop, nil
}

func waitHTTP(url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		var resp *http.Response
		resp, err = http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Env is the AWS environment that points the SDK (and Terraform's AWS
// provider) at this moto.
func (m *Moto) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":            m.Endpoint,
		"AWS_ACCESS_KEY_ID":           "testing",
		"AWS_SECRET_ACCESS_KEY":       "testing",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "us-east-1",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(os.TempDir(), "plumb-no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(os.TempDir(), "plumb-no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
}

// Config returns an SDK configuration for this moto in a region, for test
// code that sets up fixtures. Fixture clients open a fresh connection per
// request: reusing a connection moto closed under load made creates fail
// or be retried into "already exists". They keep the SDK's standard
// retries for the transport errors that remain.
func (m *Moto) Config(t testing.TB, region string) aws.Config {
	t.Helper()
	client := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DisableKeepAlives = true
	})
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithBaseEndpoint(m.Endpoint),
		config.WithHTTPClient(client),
		// A retried fixture call is logged with the error that caused it,
		// so a create replayed into "already exists" can be told apart
		// from a product bug.
		config.WithClientLogMode(aws.LogRetries),
		config.WithLogger(testLogger{t}),
	)
	if err != nil {
		t.Fatalf("moto config: %v", err)
	}
	return cfg
}

// AccountConfig is Config in another moto account, for fixtures of
// multi-account tests: moto keeps each account's resources apart by the
// account of the credentials, and an AssumeRole of any role of an
// account gives credentials in it.
func (m *Moto) AccountConfig(t testing.TB, region, account string) aws.Config {
	t.Helper()
	cfg := m.Config(t, region)
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg),
		"arn:aws:iam::"+account+":role/fixtures"))
	return cfg
}

// Reset wipes every resource in moto, back to a fresh account.
func (m *Moto) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(m.Endpoint+"/moto-api/reset", "application/json", strings.NewReader(""))
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
}

// testLogger sends the SDK's log lines to the test's log.
type testLogger struct{ t testing.TB }

func (l testLogger) Logf(classification logging.Classification, format string, v ...any) {
	l.t.Logf("aws sdk %s: "+format, append([]any{classification}, v...)...)
}
