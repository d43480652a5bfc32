package eventformat

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"plumb/internal/model"
)

// Media types of the CloudEvents JSON event format and its batch form.
const (
	ContentTypeCloudEventsJSON  = "application/cloudevents+json"
	ContentTypeCloudEventsBatch = "application/cloudevents-batch+json"
)

// ParseCloudEventsHTTP reads a CloudEvents 1.0 HTTP request. The content
// type decides the mode, as the HTTP binding specifies: the JSON event
// format is structured mode, its batch media type is batched mode, any
// other application/cloudevents* format is rejected (plumb only speaks
// JSON), and everything else is binary mode with the attributes in ce-*
// headers and the body as the event data. An empty batch is valid per the
// binding and yields no events.
func ParseCloudEventsHTTP(contentType string, header http.Header, body []byte) ([]model.Event, error) {
	mt := mediaType(contentType)
	switch {
	case mt == ContentTypeCloudEventsJSON:
		ev, err := ParseCloudEvent(body)
		if err != nil {
			return nil, err
		}
		return []model.Event{ev}, nil
	case mt == ContentTypeCloudEventsBatch:
		return parseCloudEventsBatch(body)
	case strings.HasPrefix(mt, "application/cloudevents"):
		return nil, fmt.Errorf("cloudevents: %w", perr(-1, "content-type", fmt.Sprintf("unsupported event format %q; only the JSON format is accepted", mt)))
	default:
		ev, err := parseBinaryCloudEvent(contentType, header, body)
		if err != nil {
			return nil, err
		}
		return []model.Event{ev}, nil
	}
}

// ParseCloudEvent reads one structured-mode CloudEvent (JSON format), the
// shape queue pollers receive.
func ParseCloudEvent(body []byte) (model.Event, error) {
	o, err := decodeObject(body, -1, "")
	if err != nil {
		return model.Event{}, fmt.Errorf("cloudevent: %w", err)
	}
	ev, err := cloudEvent(o, rawCopy(body), -1)
	if err != nil {
		return model.Event{}, fmt.Errorf("cloudevent: %w", err)
	}
	return ev, nil
}

func parseCloudEventsBatch(body []byte) ([]model.Event, error) {
	elems, err := decodeArray(body, -1, "", "CloudEvents batch")
	if err != nil {
		return nil, fmt.Errorf("cloudevents batch: %w", err)
	}
	out := make([]model.Event, 0, len(elems))
	for i, raw := range elems {
		o, err := objectOf(raw, i, "")
		if err != nil {
			return nil, fmt.Errorf("cloudevents batch: %w", err)
		}
		ev, err := cloudEvent(o, raw, i)
		if err != nil {
			return nil, fmt.Errorf("cloudevents batch: %w", err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// cloudEvent checks the required context attributes and the JSON format's
// data rules, then normalizes.
func cloudEvent(o object, raw json.RawMessage, i int) (model.Event, error) {
	spec, err := o.required("specversion", i, "")
	if err != nil {
		return model.Event{}, err
	}
	if spec != "1.0" {
		return model.Event{}, perr(i, "specversion", fmt.Sprintf("unsupported specversion %q; want \"1.0\"", spec))
	}
	ev := model.Event{Source: model.SourceCloudEvents, Raw: raw}
	if ev.ID, err = o.required("id", i, ""); err != nil {
		return model.Event{}, err
	}
	if ev.Topic, err = o.required("source", i, ""); err != nil {
		return model.Event{}, err
	}
	if ev.Type, err = o.required("type", i, ""); err != nil {
		return model.Event{}, err
	}
	if ev.Subject, err = o.str("subject", i, ""); err != nil {
		return model.Event{}, err
	}
	ts, err := o.str("time", i, "")
	if err != nil {
		return model.Event{}, err
	}
	if ts != "" {
		if ev.Time, err = parseTime(ts, i, "time"); err != nil {
			return model.Event{}, err
		}
	}
	for _, k := range []string{"datacontenttype", "dataschema"} {
		if _, err := o.str(k, i, ""); err != nil {
			return model.Event{}, err
		}
	}
	_, hasData := o["data"]
	if b64, ok := o["data_base64"]; ok {
		if hasData {
			return model.Event{}, perr(i, "data_base64", "data and data_base64 are mutually exclusive")
		}
		s, err := o.str("data_base64", i, "")
		if err != nil {
			return model.Event{}, err
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil && !isNull(b64) {
			return model.Event{}, &ParseError{Index: i, Field: "data_base64", Msg: "not valid base64", Err: err}
		}
	}
	// Event Grid delivers Azure system events in the CloudEvents schema with
	// the same data as in its own schema; read principal and resource from
	// it the same way.
	if strings.HasPrefix(ev.Type, "Microsoft.") {
		applyAzureResourceData(&ev, o["data"])
	}
	return ev, nil
}

// parseBinaryCloudEvent maps ce-* headers to attributes and rebuilds the
// structured JSON form for Raw, so downstream code (filters, runbooks) sees
// one shape whatever the content mode.
func parseBinaryCloudEvent(contentType string, header http.Header, body []byte) (model.Event, error) {
	attrs := map[string]any{}
	for name, vals := range header {
		lname := strings.ToLower(name)
		if !strings.HasPrefix(lname, "ce-") || len(vals) == 0 {
			continue
		}
		attr := lname[len("ce-"):]
		if attr == "" || attr == "data" || attr == "data_base64" || attr == "datacontenttype" {
			// The binding forbids ce-datacontenttype (Content-Type is the
			// attribute) and data is the body; ignore rather than let a
			// header override them.
			continue
		}
		v, err := decodeHeaderValue(vals[0])
		if err != nil {
			return model.Event{}, fmt.Errorf("cloudevent (binary): %w", &ParseError{Index: -1, Field: "ce-" + attr, Msg: "bad header value", Err: err})
		}
		attrs[attr] = v
	}
	if contentType != "" {
		attrs["datacontenttype"] = contentType
	}
	if len(body) > 0 {
		if isJSONMediaType(mediaType(contentType)) {
			if !json.Valid(body) {
				return model.Event{}, fmt.Errorf("cloudevent (binary): %w", &ParseError{Index: -1, Field: "data", Msg: "content type is JSON but the body is not valid JSON", Err: syntaxErr(body)})
			}
			attrs["data"] = json.RawMessage(body)
		} else {
			attrs["data_base64"] = base64.StdEncoding.EncodeToString(body)
		}
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		return model.Event{}, fmt.Errorf("cloudevent (binary): encoding structured form: %w", err)
	}
	// Headers are strings, so the rebuilt object can only fail the same
	// checks a structured event would: missing or wrong attributes.
	o, err := decodeObject(raw, -1, "")
	if err != nil {
		return model.Event{}, fmt.Errorf("cloudevent (binary): %w", err)
	}
	ev, err := cloudEvent(o, raw, -1)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) && pe.Field != "" && pe.Field != "data" && pe.Field != "data_base64" {
			pe.Field = "ce-" + pe.Field
		}
		return model.Event{}, fmt.Errorf("cloudevent (binary): %w", err)
	}
	return ev, nil
}

// decodeHeaderValue undoes the binding's encoding: an optional RFC 7230
// quoted string (accepted for senders of older spec versions), then one
// round of percent-decoding, which must yield valid UTF-8.
func decodeHeaderValue(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		inner := v[1 : len(v)-1]
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' && i+1 < len(inner) {
				i++
			}
			b.WriteByte(inner[i])
		}
		v = b.String()
	}
	if !strings.Contains(v, "%") {
		return v, nil
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out = append(out, v[i])
			continue
		}
		if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
			return "", fmt.Errorf("malformed percent-encoding at byte %d", i)
		}
		out = append(out, unhex(v[i+1])<<4|unhex(v[i+2]))
		i += 2
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("percent-decoded value is not valid UTF-8")
	}
	return string(out), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// mediaType lowercases the media type and drops parameters (charset).
func mediaType(ct string) string {
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

func isJSONMediaType(mt string) bool {
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}
