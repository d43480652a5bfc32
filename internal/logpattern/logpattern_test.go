package logpattern

import (
	"errors"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	root := map[string]any{"userIdentity": map[string]any{"type": "Root"}, "eventType": "AwsApiCall", "eventName": "ListBuckets"}
	rootByService := map[string]any{"userIdentity": map[string]any{"type": "Root", "invokedBy": "s3.amazonaws.com"}, "eventType": "AwsApiCall"}
	denied := map[string]any{"errorCode": "AccessDenied", "eventName": "GetObject", "sourceIPAddress": "203.0.113.9"}
	unauthorized := map[string]any{"errorCode": "Client.UnauthorizedOperation", "eventName": "RunInstances", "sourceIPAddress": "203.0.113.9"}
	delivery := map[string]any{"errorCode": "AccessDenied", "eventName": "PutObject", "sourceIPAddress": "delivery.logs.amazonaws.com"}
	describe := map[string]any{"eventName": "DescribeInstances", "sourceIPAddress": "203.0.113.9"}
	noMFA := map[string]any{"eventName": "ConsoleLogin", "additionalEventData": map[string]any{"MFAUsed": "No"}}
	withMFA := map[string]any{"eventName": "ConsoleLogin", "additionalEventData": map[string]any{"MFAUsed": "Yes"}}
	tests := []struct {
		name    string
		pattern string
		event   map[string]any
		want    bool
	}{
		{"CIS 4.1 unauthorized", `{($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket")}`, unauthorized, true},
		{"CIS 4.1 denied", `{($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket")}`, denied, true},
		{"CIS 4.1 log delivery excluded", `{($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket")}`, delivery, false},
		{"CIS 4.1 benign", `{($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")}`, describe, false},
		{"root", `{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`, root, true},
		{"root through a service", `{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`, rootByService, false},
		{"no MFA", `{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }`, noMFA, true},
		{"with MFA", `{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }`, withMFA, false},
		{"bare words, no spaces", `{($.eventName=CreateTrail)||($.eventName=UpdateTrail)}`, map[string]any{"eventName": "UpdateTrail"}, true},
		{"newlines and tabs", "{\n\t($.eventName = CreateTrail) ||\n\t($.eventName = DeleteTrail)\n}", map[string]any{"eventName": "DeleteTrail"}, true},
		{"and-ed away", `{($.eventName = CreateTrail) && ($.eventName = DeleteTrail)}`, map[string]any{"eventName": "DeleteTrail"}, false},
		{"negated", `{$.eventName != CreateTrail}`, map[string]any{"eventName": "CreateTrail"}, false},
		{"nested parentheses", `{ ($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }`, map[string]any{"eventSource": "kms.amazonaws.com", "eventName": "ScheduleKeyDeletion"}, true},
		{"wrong source", `{ ($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }`, map[string]any{"eventSource": "s3.amazonaws.com", "eventName": "DisableKey"}, false},
		{"numbers", `{ $.bytes > 100 && $.count <= 3 }`, map[string]any{"bytes": 512.0, "count": 3.0}, true},
		{"quoted number is a string", `{ $.count = "3" }`, map[string]any{"count": 3.0}, false},
		{"IS TRUE", `{ $.flag IS TRUE }`, map[string]any{"flag": true}, true},
		{"IS NULL", `{ $.x IS NULL }`, map[string]any{"x": nil}, true},
		{"index", `{ $.items[1].name = "b*" }`, map[string]any{"items": []any{map[string]any{"name": "a"}, map[string]any{"name": "bee"}}}, true},
		{"wildcard does not stop at slash", `{ $.path = "/a/*" }`, map[string]any{"path": "/a/b/c"}, true},
		{"brackets are literal", `{ $.v = "[x]*" }`, map[string]any{"v": "[x]y"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Match(tt.event); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{`ERROR`, ErrNotJSON.Error()},
		{`[ip, user]`, ErrNotJSON.Error()},
		{`{ $.a = 1`, "want \"}\""},
		{`{ ($.a = 1 }`, "want \")\""},
		{`{ a = 1 }`, "want a selector"},
		{`{ $.a }`, "want a comparison"},
		{`{ $.a IS maybe }`, "want TRUE, FALSE or NULL"},
		{`{ $.a NOT there }`, "want EXISTS"},
		{`{ $.a = "open }`, "unterminated string"},
		{`{ $.a = 1 } extra`, "after the closing }"},
		{`{ $..a = 1 }`, "empty field name"},
		{`{ $.a[x] = 1 }`, "not a number"},
		{`{ $.a = }`, "want a value"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.pattern)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.pattern, err, tt.want)
		}
	}
	if _, err := Parse("ERROR"); !errors.Is(err, ErrNotJSON) {
		t.Errorf("term pattern: %v, want ErrNotJSON", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) }`,
		`{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }`,
		`{ $.a[0].b >= 3 }`,
		`{ $.x IS NULL }`,
		`ERROR`,
		`{ "unterminated`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		p.Match(map[string]any{"eventName": "CreateTrail", "a": []any{map[string]any{"b": 3.0}}})
	})
}
