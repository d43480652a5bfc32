package model

import (
	"encoding/json"
	"time"
)

// EventSource names the protocol an event arrived in. Filters and
// normalization depend on it, so it is kept with the event.
type EventSource string

// Event sources plumb accepts.
const (
	SourceEventGrid   EventSource = "eventgrid"
	SourceCloudEvents EventSource = "cloudevents"
	SourceEventBridge EventSource = "eventbridge"
	SourceAlert       EventSource = "alert"
)

// Event is a cloud event normalized from any intake protocol, so that
// filters, handlers and the queue deal with one shape. Raw keeps the
// original envelope: filters match on it and runbooks receive it, so no
// field the sender provided is ever lost by normalization.
type Event struct {
	Source EventSource `json:"source"`
	// ID is the sender's event id; (Source, ID) identifies a delivery, so
	// a redelivered event is recognised and processed once.
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Subject string    `json:"subject,omitempty"`
	Time    time.Time `json:"time"`
	// Topic is the Event Grid topic, the CloudEvents source or the
	// EventBridge source: where the event was published.
	Topic string `json:"topic,omitempty"`
	// Principal is who caused the event (an ARN, an Entra object id or a
	// UPN) when the payload says so; empty when it does not.
	Principal string `json:"principal,omitempty"`
	// Operation is the API action behind the event
	// ("Microsoft.Network/networkSecurityGroups/write", "ec2:RunInstances").
	Operation string `json:"operation,omitempty"`
	// ResourceID is the cloud id of the resource acted on (ARM id or ARN).
	ResourceID string `json:"resource_id,omitempty"`
	// Region or location of the resource, when the payload says so.
	Region string `json:"region,omitempty"`
	// Account or subscription id, when the payload says so.
	Account string `json:"account,omitempty"`
	// Raw is the event exactly as received (one event, not the batch).
	Raw json.RawMessage `json:"raw"`
}

// Key is the identity used to process a delivery once. Ids are unique
// only within their publisher (a CloudEvents id within its source, an
// Event Grid id within its topic), so the topic is part of the key: two
// publishers that happen to reuse an id are not mistaken for a
// redelivery.
func (e Event) Key() string {
	if e.Topic == "" {
		return string(e.Source) + "/" + e.ID
	}
	return string(e.Source) + "/" + e.ID + "@" + e.Topic
}
