package handler

import (
	"encoding/json"
	"time"

	"plumb/internal/model"
)

// awsEvent wraps a CloudTrail record in an EventBridge "AWS API Call via
// CloudTrail" envelope and normalizes it as the intake does.
func awsEvent(principal, detail string) model.Event {
	raw := `{"version":"0","id":"ev-1","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","account":"123456789012",
	"time":"2026-03-02T10:15:30Z","region":"eu-west-1","resources":[],"detail":` + detail + `}`
	var env struct {
		Detail struct {
			EventSource string `json:"eventSource"`
			EventName   string `json:"eventName"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(raw), &env); err != nil {
		panic(err)
	}
	svc := env.Detail.EventSource
	if i := len(svc) - len(".amazonaws.com"); i > 0 {
		svc = svc[:i]
	}
	return model.Event{
		Source: model.SourceEventBridge, ID: "ev-1", Type: "AWS API Call via CloudTrail",
		Time: time.Date(2026, 3, 2, 10, 15, 30, 0, time.UTC), Principal: principal,
		Operation: svc + ":" + env.Detail.EventName, Region: "eu-west-1", Account: "123456789012",
		Raw: json.RawMessage(raw),
	}
}

// azureEvent builds an Event Grid resource event.
func azureEvent(eventType, op, resourceID, principal string) model.Event {
	raw, _ := json.Marshal(map[string]any{
		"id": "eg-1", "eventType": eventType, "subject": resourceID, "eventTime": "2026-03-02T11:00:00Z",
		"topic": "/subscriptions/00000000-0000-0000-0000-000000000001",
		"data": map[string]any{
			"operationName": op, "resourceUri": resourceID, "status": "Succeeded",
			"authorization": map[string]any{"evidence": map[string]any{"principalId": principal, "principalType": "User"}},
		},
		"dataVersion": "2",
	})
	return model.Event{
		Source: model.SourceEventGrid, ID: "eg-1", Type: eventType, Subject: resourceID,
		Time: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC), Principal: principal, Operation: op, ResourceID: resourceID,
		Raw: raw,
	}
}

const (
	userBob   = "arn:aws:iam::123456789012:user/bob"
	ciSession = "arn:aws:sts::123456789012:assumed-role/github-actions-deploy/GitHubActions"
	storageID = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/"
)

func runInstances(principal, instanceID string) model.Event {
	return awsEvent(principal, `{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","readOnly":false,
	"managementEvent":true,"recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","arn":"`+principal+`"},
	"responseElements":{"instancesSet":{"items":[{"instanceId":"`+instanceID+`"}]}}}`)
}

func createBucket(principal, bucket string) model.Event {
	return awsEvent(principal, `{"eventSource":"s3.amazonaws.com","eventName":"CreateBucket","awsRegion":"eu-west-1","readOnly":false,
	"recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","arn":"`+principal+`"},
	"requestParameters":{"bucketName":"`+bucket+`"}}`)
}
