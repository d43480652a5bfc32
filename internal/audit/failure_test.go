package audit

import (
	"strings"
	"testing"

	"plumb/internal/model"
)

func TestFailedOperation(t *testing.T) {
	tests := []struct {
		file    string
		want    bool
		message []string
		typ     string
	}{
		{"eg_write_failure.json", true, []string{"Microsoft.Network/networkSecurityGroups/write", "nsg-web", "bbbbbbbb-1111-2222-3333-444444444444", "(Failed)"}, "azurerm_network_security_group"},
		{"eb_createbucket_denied.json", true, []string{"s3:CreateBucket", "arn:aws:iam::123456789012:user/bob", "(AccessDenied: Access Denied)"}, ""},
		{"eb_runinstances.json", false, nil, ""},
		{"eg_storage_write.json", false, nil, ""},
		{"eb_describe.json", false, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			ev := loadEvent(t, tc.file)
			f, ok := FailedOperation(ev, "prod")
			if ok != tc.want {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.want, f)
			}
			if !ok {
				return
			}
			if f.Kind != model.KindOperationFailed || f.Severity != model.SeverityMedium || f.Environment != "prod" || f.Fingerprint == "" {
				t.Errorf("finding %+v", f)
			}
			for _, part := range tc.message {
				if !strings.Contains(f.Message, part) {
					t.Errorf("message %q lacks %q", f.Message, part)
				}
			}
			if f.Resource.Type != tc.typ {
				t.Errorf("resource type %q, want %q", f.Resource.Type, tc.typ)
			}
			again, _ := FailedOperation(ev, "prod")
			if again.Fingerprint != f.Fingerprint {
				t.Error("the same failure twice got two fingerprints")
			}
			if other, _ := FailedOperation(ev, "staging"); other.Fingerprint == f.Fingerprint {
				t.Error("the environment is not part of the fingerprint")
			}
		})
	}
}
