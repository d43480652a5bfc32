package filter

import (
	"encoding/json"
	"testing"

	"plumb/internal/model"
)

// armWriteEvent is a ~2 KB Azure Resource Manager write event (Event Grid
// schema), the kind plumb routes to audit subscriptions.
const armWriteEvent = `{
  "id": "4e2f7f2b-8c1a-4f5e-9d0b-2b6f1c8a9e11",
  "topic": "/subscriptions/00000000-1111-2222-3333-444444444444",
  "subject": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/prod-network/providers/Microsoft.Network/networkSecurityGroups/web-nsg",
  "eventType": "Microsoft.Resources.ResourceWriteSuccess",
  "eventTime": "2024-05-14T09:21:33.1234567Z",
  "dataVersion": "2",
  "metadataVersion": "1",
  "data": {
    "authorization": {
      "scope": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/prod-network/providers/Microsoft.Network/networkSecurityGroups/web-nsg",
      "action": "Microsoft.Network/networkSecurityGroups/write",
      "evidence": {"role": "Network Contributor", "roleAssignmentScope": "/subscriptions/00000000-1111-2222-3333-444444444444", "principalType": "User"}
    },
    "claims": {
      "aud": "https://management.core.windows.net/",
      "iss": "https://sts.windows.net/99999999-8888-7777-6666-555555555555/",
      "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
      "name": "Jane Operator",
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "jane@contoso.com",
      "ipaddr": "203.0.113.17"
    },
    "correlationId": "a1b2c3d4-e5f6-7788-99aa-bbccddeeff00",
    "httpRequest": {"clientRequestId": "c0ffee00-1234-5678-9abc-def012345678", "clientIpAddress": "203.0.113.17", "method": "PUT", "url": "https://management.azure.com/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/prod-network/providers/Microsoft.Network/networkSecurityGroups/web-nsg?api-version=2023-09-01"},
    "resourceProvider": "Microsoft.Network",
    "resourceUri": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/prod-network/providers/Microsoft.Network/networkSecurityGroups/web-nsg",
    "operationName": "Microsoft.Network/networkSecurityGroups/write",
    "status": "Succeeded",
    "statusCode": 201,
    "subscriptionId": "00000000-1111-2222-3333-444444444444",
    "tenantId": "99999999-8888-7777-6666-555555555555",
    "tags": ["prod", "network", "pci"]
  }
}`

// cloudTrailEvent is a ~2 KB "AWS API Call via CloudTrail" EventBridge event.
const cloudTrailEvent = `{
  "version": "0",
  "id": "6f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0",
  "detail-type": "AWS API Call via CloudTrail",
  "source": "aws.ec2",
  "account": "123456789012",
  "time": "2024-05-14T09:21:33Z",
  "region": "eu-west-1",
  "resources": [],
  "detail": {
    "eventVersion": "1.09",
    "userIdentity": {
      "type": "AssumedRole",
      "principalId": "AROAEXAMPLEID:jane",
      "arn": "arn:aws:sts::123456789012:assumed-role/Admin/jane",
      "accountId": "123456789012",
      "accessKeyId": "ASIAEXAMPLEKEY",
      "sessionContext": {
        "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEID", "arn": "arn:aws:iam::123456789012:role/Admin", "accountId": "123456789012", "userName": "Admin"},
        "attributes": {"creationDate": "2024-05-14T08:00:00Z", "mfaAuthenticated": "true"}
      }
    },
    "eventTime": "2024-05-14T09:21:33Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "AuthorizeSecurityGroupIngress",
    "awsRegion": "eu-west-1",
    "sourceIPAddress": "203.0.113.17",
    "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22 prompt/off command/ec2.authorize-security-group-ingress",
    "requestParameters": {
      "groupId": "sg-0123456789abcdef0",
      "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}
    },
    "responseElements": {"requestId": "11112222-3333-4444-5555-666677778888", "_return": true},
    "requestID": "11112222-3333-4444-5555-666677778888",
    "eventID": "aaaabbbb-cccc-dddd-eeee-ffff00001111",
    "readOnly": false,
    "eventType": "AwsApiCall",
    "managementEvent": true,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
    "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2.eu-west-1.amazonaws.com"}
  }
}`

func BenchmarkEventGridMatch(b *testing.B) {
	m, err := EventGrid{
		EnableAdvancedFilteringOnArrays: true,
		IncludedEventTypes:              []string{"Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess"},
		SubjectBeginsWith:               "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/prod-",
		AdvancedFilters: []AdvancedFilter{
			af("StringIn", "data.operationName", "Microsoft.Network/networkSecurityGroups/write", "Microsoft.Network/networkSecurityGroups/securityRules/write"),
			af("StringNotContains", "data.claims.appid", "ffffffff-0000"),
			af("NumberInRange", "data.statusCode", []any{200, 299}),
			af("StringNotIn", "data.tags", "sandbox", "dev"),
			af("StringBeginsWith", "data.authorization.evidence.role", "Network", "Owner"),
		},
	}.Compile()
	if err != nil {
		b.Fatal(err)
	}
	d := mustDoc(b, armWriteEvent)
	if !m.Match(d) {
		b.Fatal("benchmark filter does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Match(d)
	}
}

func BenchmarkPatternMatch(b *testing.B) {
	p, err := CompilePattern([]byte(`{
	  "source": ["aws.ec2"],
	  "detail-type": ["AWS API Call via CloudTrail"],
	  "detail": {
	    "eventSource": ["ec2.amazonaws.com"],
	    "eventName": ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress"],
	    "userIdentity": {"arn": [{"anything-but": {"prefix": "arn:aws:sts::123456789012:assumed-role/TerraformPipeline/"}}]},
	    "sourceIPAddress": [{"anything-but": {"wildcard": "*.amazonaws.com"}}],
	    "requestParameters": {"ipPermissions": {"items": {"ipRanges": {"items": {"cidrIp": ["0.0.0.0/0"]}}}}},
	    "errorCode": [{"exists": false}]
	  }
	}`))
	if err != nil {
		b.Fatal(err)
	}
	d := mustDoc(b, cloudTrailEvent)
	if !p.Match(d) {
		b.Fatal("benchmark pattern does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Match(d)
	}
}

// BenchmarkNewDoc shows the once-per-event decoding cost that the Match
// benchmarks exclude.
func BenchmarkNewDoc(b *testing.B) {
	ev := model.Event{ID: "b", Raw: json.RawMessage(cloudTrailEvent)}
	b.ReportAllocs()
	b.SetBytes(int64(len(cloudTrailEvent)))
	for b.Loop() {
		if _, err := NewDoc(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewDocMatch is the per-event routing cost as intake pays it:
// NewDoc plus one Match, for a subscription on event types only (no tree
// needed) and for one with advanced filters (tree decoded on demand).
func BenchmarkNewDocMatch(b *testing.B) {
	typesOnly, err := EventGrid{IncludedEventTypes: []string{"Microsoft.Resources.ResourceWriteSuccess"}}.Compile()
	if err != nil {
		b.Fatal(err)
	}
	advanced, err := EventGrid{
		IncludedEventTypes: []string{"Microsoft.Resources.ResourceWriteSuccess"},
		AdvancedFilters:    []AdvancedFilter{af("StringIn", "data.operationName", "Microsoft.Network/networkSecurityGroups/write")},
	}.Compile()
	if err != nil {
		b.Fatal(err)
	}
	ev := model.Event{ID: "b", Raw: json.RawMessage(armWriteEvent)}
	for _, bc := range []struct {
		name string
		m    *EventGridMatcher
	}{{"types", typesOnly}, {"advanced", advanced}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(armWriteEvent)))
			for b.Loop() {
				d, err := NewDoc(ev)
				if err != nil || !bc.m.Match(d) {
					b.Fatal("no match", err)
				}
			}
		})
	}
}

// BenchmarkNewDocPatternDotted is intake's cost for a pattern on an Azure
// ARM event, whose claims have keys with dots: NewDoc, the decode and the
// once-per-event split of dotted keys, and one Match.
func BenchmarkNewDocPatternDotted(b *testing.B) {
	p, err := CompilePattern([]byte(`{"eventType":["Microsoft.Resources.ResourceWriteSuccess"],
	  "data":{"claims":{"http://schemas":{"xmlsoap":{"org/ws/2005/05/identity/claims/upn":[{"suffix":"@contoso.com"}]}}},"statusCode":[{"numeric":[">=",200,"<",300]}]}}`))
	if err != nil {
		b.Fatal(err)
	}
	ev := model.Event{ID: "b", Raw: json.RawMessage(armWriteEvent)}
	b.ReportAllocs()
	b.SetBytes(int64(len(armWriteEvent)))
	for b.Loop() {
		d, err := NewDoc(ev)
		if err != nil || !p.Match(d) {
			b.Fatal("no match", err)
		}
	}
}
