package aws_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	enforceaws "plumb/internal/enforce/aws"
)

// swapCreds hands out whichever credentials were set last, each expired
// at once so the SDK's cache asks again on every call.
type swapCreds struct {
	mu    sync.Mutex
	creds aws.Credentials
}

func (s *swapCreds) set(c aws.Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.CanExpire, c.Expires = true, time.Now().Add(-time.Minute)
	s.creds = c
}

func (s *swapCreds) Retrieve(context.Context) (aws.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creds, nil
}

// TestCallerPerAccessKey: the account guard's answer is asked of STS once
// per access key (moto counts every call the executor makes), and
// credentials that change to another account's are asked about again and
// name that account.
func TestCallerPerAccessKey(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	other, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::111111111111:role/plumb"), RoleSessionName: aws.String("plumb")})
	must(t, err, "AssumeRole")
	creds := &swapCreds{}
	creds.set(aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"})
	ex, err := enforceaws.New(ctx, config.WithCredentialsProvider(creds))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		creds     *aws.Credentials
		want      string
		wantReads int64
	}{
		{name: "first ask", want: "123456789012", wantReads: 1},
		{name: "same key: no call", want: "123456789012", wantReads: 0},
		{name: "same key again", want: "123456789012", wantReads: 0},
		{name: "assumed role in another account", creds: &aws.Credentials{AccessKeyID: aws.ToString(other.Credentials.AccessKeyId),
			SecretAccessKey: aws.ToString(other.Credentials.SecretAccessKey), SessionToken: aws.ToString(other.Credentials.SessionToken)},
			want: "111111111111", wantReads: 1},
		{name: "its key again: no call", want: "111111111111", wantReads: 0},
		{name: "back to the first key", creds: &aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, want: "123456789012", wantReads: 1},
	}
	for _, st := range steps {
		if st.creds != nil {
			creds.set(*st.creds)
		}
		r0, _ := ex.Calls()
		got, err := ex.Caller(ctx)
		r1, _ := ex.Calls()
		if err != nil || got != st.want || r1-r0 != st.wantReads {
			t.Errorf("%s: Caller = %q, %v after %d STS calls; want %q after %d", st.name, got, err, r1-r0, st.want, st.wantReads)
		}
	}
}
