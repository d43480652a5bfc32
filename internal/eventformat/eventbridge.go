package eventformat

import (
	"encoding/json"
	"fmt"
	"strings"

	"plumb/internal/model"
)

// ParseEventBridge reads one EventBridge event, as an EventBridge rule with
// an SQS target puts it in the message body. The envelope fields every
// EventBridge event carries (id, detail-type, source, time) are required;
// for "AWS API Call via CloudTrail" events the CloudTrail record in detail
// supplies who called which API, so audit can check the principal.
func ParseEventBridge(body []byte) (model.Event, error) {
	ev, err := eventBridge(body)
	if err != nil {
		return model.Event{}, fmt.Errorf("eventbridge event: %w", err)
	}
	return ev, nil
}

func eventBridge(body []byte) (model.Event, error) {
	o, err := decodeObject(body, -1, "")
	if err != nil {
		return model.Event{}, err
	}
	ev := model.Event{Source: model.SourceEventBridge, Raw: rawCopy(body)}
	if ev.ID, err = o.required("id", -1, ""); err != nil {
		return model.Event{}, err
	}
	if ev.Type, err = o.required("detail-type", -1, ""); err != nil {
		return model.Event{}, err
	}
	if ev.Topic, err = o.required("source", -1, ""); err != nil {
		return model.Event{}, err
	}
	ts, err := o.required("time", -1, "")
	if err != nil {
		return model.Event{}, err
	}
	if ev.Time, err = parseTime(ts, -1, "time"); err != nil {
		return model.Event{}, err
	}
	if ev.Region, err = o.str("region", -1, ""); err != nil {
		return model.Event{}, err
	}
	if ev.Account, err = o.str("account", -1, ""); err != nil {
		return model.Event{}, err
	}
	if ev.ResourceID, err = firstResource(o["resources"]); err != nil {
		return model.Event{}, err
	}

	var detail object
	if raw, ok := o["detail"]; ok && !isNull(raw) {
		if detail, err = decodeObject(raw, -1, "detail"); err != nil {
			return model.Event{}, err
		}
	}
	if detail == nil {
		return ev, nil
	}
	if id := detail.lenientObject("userIdentity"); id != nil {
		ev.Principal = id.lenientStr("arn")
		if ev.Principal == "" {
			ev.Principal = id.lenientStr("principalId")
		}
	}
	if name := detail.lenientStr("eventName"); name != "" {
		ev.Operation = awsService(detail.lenientStr("eventSource"), ev.Topic) + ":" + name
	}
	if ev.Region == "" {
		ev.Region = detail.lenientStr("awsRegion")
	}
	if ev.Account == "" {
		ev.Account = detail.lenientStr("recipientAccountId")
	}
	return ev, nil
}

// awsService gives the IAM service prefix: the CloudTrail eventSource
// without its domain ("ec2.amazonaws.com" -> "ec2"), else the EventBridge
// source without "aws." ("aws.ec2" -> "ec2").
func awsService(eventSource, source string) string {
	if eventSource != "" {
		return strings.TrimSuffix(eventSource, ".amazonaws.com")
	}
	return strings.TrimPrefix(source, "aws.")
}

// firstResource returns resources[0] as an ARN. EventBridge sends ARN
// strings; some producers send objects with an ARN field, accepted too.
func firstResource(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	elems, err := decodeArray(raw, -1, "resources", "resources")
	if err != nil {
		return "", err
	}
	if len(elems) == 0 {
		return "", nil
	}
	switch jsonKind(elems[0]) {
	case "string":
		var s string
		if err := json.Unmarshal(elems[0], &s); err != nil {
			return "", &ParseError{Index: -1, Field: "resources[0]", Msg: "invalid string", Err: err}
		}
		return s, nil
	case "object":
		o, err := decodeObject(elems[0], -1, "resources[0]")
		if err != nil {
			return "", err
		}
		for _, k := range []string{"ARN", "arn", "Arn"} {
			if s := o.lenientStr(k); s != "" {
				return s, nil
			}
		}
		return "", nil
	default:
		return "", perr(-1, "resources[0]", "must be an ARN string or an object with an ARN, got "+jsonKind(elems[0]))
	}
}
