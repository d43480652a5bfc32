package eventformat

import (
	"bytes"
	"strings"
	"testing"

	"plumb/internal/model"
)

func TestParseEventBridge(t *testing.T) {
	tests := []struct {
		name string
		file string
		want model.Event
	}{
		{
			name: "RunInstances by an assumed role",
			file: "eventbridge_runinstances.json",
			want: model.Event{
				Source: model.SourceEventBridge, ID: "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
				Type: "AWS API Call via CloudTrail", Time: mustTime(t, "2026-03-14T12:01:02Z"), Topic: "aws.ec2",
				Principal: "arn:aws:sts::210987654321:assumed-role/Admin/alice", Operation: "ec2:RunInstances",
				Region: "eu-west-1", Account: "210987654321",
			},
		},
		{
			// No arn: principalId. No envelope region, empty account:
			// detail.awsRegion and detail.recipientAccountId. Resource
			// given as an object with an ARN.
			name: "AuthorizeSecurityGroupIngress with fallbacks",
			file: "eventbridge_authorize_sg_ingress.json",
			want: model.Event{
				Source: model.SourceEventBridge, ID: "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
				Type: "AWS API Call via CloudTrail", Time: mustTime(t, "2026-03-14T12:30:00Z"), Topic: "aws.ec2",
				Principal: "AIDAEXAMPLEUSERID0001", Operation: "ec2:AuthorizeSecurityGroupIngress",
				ResourceID: "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0a1b2c3d4e5f60718",
				Region:     "us-east-1", Account: "123456789012",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := readTestdata(t, tt.file)
			got, err := ParseEventBridge(body)
			if err != nil {
				t.Fatal(err)
			}
			assertEvent(t, got, tt.want, bytes.TrimSpace(body))
		})
	}
}

func TestParseEventBridgeShapes(t *testing.T) {
	base := `{"id":"1","detail-type":"Scheduled Event","source":"aws.events","time":"2026-01-01T00:00:00Z"%s}`
	tests := []struct {
		name, extra, resource, op string
	}{
		{"no detail", ``, "", ""},
		{"null detail and resources", `,"detail":null,"resources":null`, "", ""},
		{"string resource", `,"resources":["arn:aws:events:us-east-1:1:rule/r"],"detail":{}`, "arn:aws:events:us-east-1:1:rule/r", ""},
		{"eventName without eventSource uses source", `,"detail":{"eventName":"PutRule"}`, "", "events:PutRule"},
		{"odd detail field types ignored", `,"detail":{"userIdentity":"x","eventName":5}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEventBridge([]byte(strings.Replace(base, "%s", tt.extra, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if got.ResourceID != tt.resource || got.Operation != tt.op {
				t.Errorf("resource %q op %q; want %q %q", got.ResourceID, got.Operation, tt.resource, tt.op)
			}
		})
	}
}

func TestParseEventBridgeErrors(t *testing.T) {
	valid := `{"id":"1","detail-type":"d","source":"aws.ec2","time":"2026-01-01T00:00:00Z","detail":{}}`
	tests := []struct {
		name, body, field string
	}{
		{"truncated", valid[:25], ""},
		{"array", `[` + valid + `]`, ""},
		{"missing id", strings.Replace(valid, `"id":"1",`, ``, 1), "id"},
		{"missing detail-type", strings.Replace(valid, `"detail-type":"d",`, ``, 1), "detail-type"},
		{"missing source", strings.Replace(valid, `"source":"aws.ec2",`, ``, 1), "source"},
		{"missing time", strings.Replace(valid, `,"time":"2026-01-01T00:00:00Z"`, ``, 1), "time"},
		{"time not RFC 3339", strings.Replace(valid, `2026-01-01T00:00:00Z`, `2026-01-01 00:00`, 1), "time"},
		{"id number", strings.Replace(valid, `"id":"1"`, `"id":1`, 1), "id"},
		{"region number", strings.Replace(valid, `"id":"1"`, `"id":"1","region":1`, 1), "region"},
		{"detail string", strings.Replace(valid, `"detail":{}`, `"detail":"x"`, 1), "detail"},
		{"resources object", strings.Replace(valid, `"detail":{}`, `"resources":{}`, 1), "resources"},
		{"resources[0] number", strings.Replace(valid, `"detail":{}`, `"resources":[1]`, 1), "resources[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEventBridge([]byte(tt.body))
			assertParseError(t, err, -1, tt.field)
		})
	}
}
