package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/model"
)

// loadEvent reads a real-format payload from testdata and normalizes it
// the way the intake does (enough for these tests): EventBridge envelopes
// and Event Grid events.
func loadEvent(t *testing.T, name string) model.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return normalize(t, data)
}

func normalize(t *testing.T, data []byte) model.Event {
	t.Helper()
	var env struct {
		ID         string    `json:"id"`
		DetailType string    `json:"detail-type"`
		Source     string    `json:"source"`
		Account    string    `json:"account"`
		Region     string    `json:"region"`
		Time       time.Time `json:"time"`
		Detail     *Record   `json:"detail"`
		EventType  string    `json:"eventType"`
		Subject    string    `json:"subject"`
		Topic      string    `json:"topic"`
		EventTime  time.Time `json:"eventTime"`
		Data       azureData `json:"data"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	if env.Detail != nil {
		return model.Event{
			Source: model.SourceEventBridge, ID: env.ID, Type: env.DetailType, Time: env.Time, Topic: env.Source,
			Principal: env.Detail.UserIdentity.ARN,
			Operation: strings.TrimSuffix(env.Detail.EventSource, ".amazonaws.com") + ":" + env.Detail.EventName,
			Region:    env.Region, Account: env.Account, Raw: data,
		}
	}
	return model.Event{
		Source: model.SourceEventGrid, ID: env.ID, Type: env.EventType, Subject: env.Subject, Time: env.EventTime, Topic: env.Topic,
		Principal: env.Data.Authorization.Evidence.PrincipalID, Operation: env.Data.OperationName,
		ResourceID: env.Data.ResourceURI, Account: env.Data.Subscription, Raw: data,
	}
}
