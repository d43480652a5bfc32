package eventformat

import (
	"encoding/json"
	"fmt"

	"plumb/internal/model"
)

// EventTypeSubscriptionValidation is the event type Event Grid sends to a
// new webhook subscription; the receiver must echo the code (or visit the
// URL) before any real event is delivered.
const EventTypeSubscriptionValidation = "Microsoft.EventGrid.SubscriptionValidationEvent"

// EventGridBatch is one Event Grid delivery. A delivery is either the
// validation handshake or events, never both, so a receiver can branch on
// Validation first.
type EventGridBatch struct {
	Validation *Validation
	Events     []model.Event
}

// Validation carries what the receiver needs to complete the Event Grid
// subscription handshake: Code is echoed back synchronously, URL is the
// manual (GET) alternative when the endpoint cannot answer in time.
type Validation struct {
	Code string
	URL  string
}

// ParseEventGrid reads an Event Grid schema delivery, which is always a JSON
// array. A non-array body or an empty array is rejected: Event Grid never
// sends either, so they mean the sender is not Event Grid (or is using the
// CloudEvents schema on the wrong endpoint).
func ParseEventGrid(body []byte) (EventGridBatch, error) {
	elems, err := decodeArray(body, -1, "", "Event Grid schema body (a batch of events)")
	if err != nil {
		return EventGridBatch{}, fmt.Errorf("event grid batch: %w", err)
	}
	if len(elems) == 0 {
		return EventGridBatch{}, fmt.Errorf("event grid batch: %w", perr(-1, "", "batch is empty; Event Grid delivers at least one event"))
	}
	out := EventGridBatch{Events: make([]model.Event, 0, len(elems))}
	for i, raw := range elems {
		o, err := objectOf(raw, i, "")
		if err != nil {
			return EventGridBatch{}, fmt.Errorf("event grid batch: %w", err)
		}
		typ, err := o.required("eventType", i, "")
		if err != nil {
			return EventGridBatch{}, fmt.Errorf("event grid batch: %w", err)
		}
		if typ == EventTypeSubscriptionValidation {
			if len(elems) != 1 {
				return EventGridBatch{}, fmt.Errorf("event grid batch: %w", perr(i, "eventType", "a subscription validation event must be delivered alone"))
			}
			v, err := parseValidation(o, i)
			if err != nil {
				return EventGridBatch{}, fmt.Errorf("event grid batch: %w", err)
			}
			return EventGridBatch{Validation: v}, nil
		}
		ev, err := eventGridEvent(o, raw, i)
		if err != nil {
			return EventGridBatch{}, fmt.Errorf("event grid batch: %w", err)
		}
		out.Events = append(out.Events, ev)
	}
	return out, nil
}

// ParseEventGridEvent reads one Event Grid schema event object, as Storage
// Queue subscriptions deliver it (one event per message, no array). A
// validation event is not expected there and is returned as an ordinary
// event.
func ParseEventGridEvent(body []byte) (model.Event, error) {
	o, err := decodeObject(body, -1, "")
	if err != nil {
		return model.Event{}, fmt.Errorf("event grid event: %w", err)
	}
	ev, err := eventGridEvent(o, rawCopy(body), -1)
	if err != nil {
		return model.Event{}, fmt.Errorf("event grid event: %w", err)
	}
	return ev, nil
}

func parseValidation(o object, i int) (*Validation, error) {
	data, err := objectOf(o["data"], i, "data")
	if err != nil {
		if isNull(o["data"]) {
			return nil, perr(i, "data", "required field is missing")
		}
		return nil, err
	}
	code, err := data.required("validationCode", i, "data.")
	if err != nil {
		return nil, err
	}
	url, err := data.str("validationUrl", i, "data.")
	if err != nil {
		return nil, err
	}
	return &Validation{Code: code, URL: url}, nil
}

// eventGridEvent validates the properties the Event Grid schema says every
// delivered event has (id, eventType, subject, eventTime, dataVersion; Event
// Grid stamps dataVersion, possibly empty, when the publisher omits it) and
// normalizes it.
func eventGridEvent(o object, raw json.RawMessage, i int) (model.Event, error) {
	ev := model.Event{Source: model.SourceEventGrid, Raw: raw}
	var err error
	if ev.ID, err = o.required("id", i, ""); err != nil {
		return model.Event{}, err
	}
	if ev.Type, err = o.required("eventType", i, ""); err != nil {
		return model.Event{}, err
	}
	if ev.Subject, err = o.required("subject", i, ""); err != nil {
		return model.Event{}, err
	}
	ts, err := o.required("eventTime", i, "")
	if err != nil {
		return model.Event{}, err
	}
	if ev.Time, err = parseTime(ts, i, "eventTime"); err != nil {
		return model.Event{}, err
	}
	if _, ok := o["dataVersion"]; !ok {
		return model.Event{}, perr(i, "dataVersion", "required field is missing")
	}
	if _, err := o.str("dataVersion", i, ""); err != nil {
		return model.Event{}, err
	}
	if _, err := o.str("metadataVersion", i, ""); err != nil {
		return model.Event{}, err
	}
	if ev.Topic, err = o.str("topic", i, ""); err != nil {
		return model.Event{}, err
	}
	applyAzureResourceData(&ev, o["data"])
	return ev, nil
}
