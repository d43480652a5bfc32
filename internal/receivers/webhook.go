package receivers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"plumb/internal/config"
)

// Header names of plumb's webhook, part of its public contract.
const (
	// HeaderTimestamp carries the signing time in unix seconds; it is
	// signed too, so a captured request cannot be replayed later.
	HeaderTimestamp = "X-Plumb-Timestamp"
	// HeaderSignature is "sha256=" followed by the hex HMAC-SHA256, keyed
	// with the shared secret, of "<timestamp>.<body>" (the Stripe and
	// GitHub scheme, so existing verification code is easy to adapt).
	HeaderSignature = "X-Plumb-Signature"
	// HeaderDelivery is the delivery id (DeliveryID): the same for every
	// retry of the same notification content, so receivers dedupe on it.
	HeaderDelivery = "X-Plumb-Delivery"
)

// WebhookVersion is the version field of WebhookPayload. It changes only
// when a field changes meaning or goes away; new fields may appear
// without a new version, so consumers must ignore unknown fields.
const WebhookVersion = 1

// defaultWebhookTimeout applies when the config leaves timeout unset
// (config validation sets 10s; a receiver built by hand gets the same).
const defaultWebhookTimeout = 10 * time.Second

// WebhookPayload is the JSON document plumb posts to a webhook and writes
// to a runbook's stdin. It is the Notification plus a version and the
// delivery id, so a consumer can decode it into Notification directly:
//
//	{
//	  "version": 1,
//	  "delivery_id": "5f1c…",           // = X-Plumb-Delivery
//	  "receiver": "ops-hook",
//	  "group_key": "…",
//	  "group_labels": {"environment": "prod"},
//	  "external_url": "https://plumb.example.com",   // optional
//	  "findings": [{
//	    "kind": "drift.unmanaged", "severity": "medium", "fingerprint": "…",
//	    "environment": "prod", "resource": {…}, "address": null,
//	    "changes": [], "message": "…",
//	    "status": "open",                  // open | resolved | suppressed
//	    "first_seen": "RFC3339", "last_seen": "RFC3339", "count": 3,
//	    "resolved_at": "RFC3339",          // resolved findings only
//	    "principal": "arn:…"               // when known
//	  }]
//	}
//
// The body is the same bytes on every retry of one notification.
type WebhookPayload struct {
	Version    int    `json:"version"`
	DeliveryID string `json:"delivery_id"`
	Notification
}

// NewWebhookPayload builds the payload of a notification.
func NewWebhookPayload(n Notification) WebhookPayload {
	if n.Findings == nil {
		n.Findings = []Finding{}
	}
	if n.GroupLabels == nil {
		n.GroupLabels = map[string]string{}
	}
	return WebhookPayload{Version: WebhookVersion, DeliveryID: DeliveryID(n), Notification: n}
}

// DeliveryID is a stable id of a notification's content: the receiver,
// the group key and, per finding in fingerprint order, its fingerprint,
// status and last-seen time. A retry after an outage or a crash carries
// the same id, while a later notification about the same group (a new
// sighting, a resolution) carries a new one. It is the only
// deduplication an HTTP endpoint can get: plumb cannot know whether a
// request that timed out was processed.
func DeliveryID(n Notification) string {
	type part struct{ fp, status, seen string }
	parts := make([]part, 0, len(n.Findings))
	for _, f := range n.Findings {
		parts = append(parts, part{f.Fingerprint, f.Status, f.LastSeen.UTC().Format(time.RFC3339Nano)})
	}
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].fp != parts[j].fp {
			return parts[i].fp < parts[j].fp
		}
		return parts[i].status < parts[j].status
	})
	h := sha256.New()
	write := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	write(n.Receiver)
	write(n.GroupKey)
	for _, p := range parts {
		write(p.fp)
		write(p.status)
		write(p.seen)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Webhook posts notifications as signed JSON to an HTTP endpoint, for
// teams that integrate plumb with systems it has no receiver for.
type Webhook struct {
	name   string
	url    string
	secret []byte
	poster *httpPoster
	// now is the clock used for signing; tests move it.
	now func() time.Time
}

// NewWebhook builds a webhook receiver. client may be nil (a default
// client); its redirect policy is not used, because a signed POST must
// not be silently turned into a GET elsewhere.
func NewWebhook(name string, cfg config.WebhookReceiverConfig, client *http.Client) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver %s: url: %w", name, redactURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("webhook receiver %s: url %s: want http(s)://host/path", name, displayURL(u))
	}
	secret := cfg.Secret.Value()
	if secret == "" {
		return nil, fmt.Errorf("webhook receiver %s: secret is required to sign deliveries", name)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultWebhookTimeout
	}
	var hide []string
	if u.RawQuery != "" {
		hide = append(hide, u.RawQuery)
	}
	if u.User != nil {
		hide = append(hide, u.User.String())
	}
	hide = append(hide, secret)
	return &Webhook{
		name:   name,
		url:    cfg.URL,
		secret: []byte(secret),
		poster: newHTTPPoster(client, "webhook "+name+" ("+displayURL(u)+")", timeout, hide...),
		now:    time.Now,
	}, nil
}

// Name is the configured receiver name.
func (w *Webhook) Name() string { return w.name }

// Deliver posts the notification. The body and X-Plumb-Delivery are the
// same on every retry; only the timestamp and signature change. See
// httpPoster.classify for which answers are retried.
func (w *Webhook) Deliver(ctx context.Context, n Notification) error {
	p := NewWebhookPayload(n)
	body, err := json.Marshal(p)
	if err != nil {
		return Permanent(fmt.Errorf("webhook %s: encode notification: %w", w.name, err))
	}
	now := w.now()
	ts := strconv.FormatInt(now.Unix(), 10)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, "sha256="+sign(w.secret, ts, body))
	h.Set(HeaderDelivery, p.DeliveryID)
	resp, err := w.poster.post(ctx, w.url, h, body)
	if err != nil {
		return err
	}
	return w.poster.classify(resp, now)
}

// sign is the hex HMAC-SHA256 of "<timestamp>.<body>".
func sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Signature verification failures, distinguishable so a receiver can log
// why it refused a request.
var (
	ErrSignatureMissing  = errors.New("webhook signature: missing " + HeaderSignature + " or " + HeaderTimestamp)
	ErrSignatureMismatch = errors.New("webhook signature: does not match")
	ErrTimestampExpired  = errors.New("webhook signature: timestamp outside tolerance")
)

// VerifyWebhookSignature checks a delivery the way receivers of plumb's
// webhooks should: the signature must be the HMAC of the timestamp and
// the exact body bytes, compared in constant time, and the timestamp
// must be within tolerance of now (either side), so a captured request
// cannot be replayed later. tolerance <= 0 means five minutes.
func VerifyWebhookSignature(secret []byte, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	ts := header.Get(HeaderTimestamp)
	sig := header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return ErrSignatureMissing
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp %q", ErrSignatureMismatch, ts)
	}
	age := now.Sub(time.Unix(unix, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed %s ago, tolerance %s", ErrTimestampExpired, age.Round(time.Second), tolerance)
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return fmt.Errorf("%w: want sha256=<hex>", ErrSignatureMismatch)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrSignatureMismatch)
	}
	want, _ := hex.DecodeString(sign(secret, ts, body))
	if !hmac.Equal(got, want) {
		return ErrSignatureMismatch
	}
	return nil
}

// redactURLError drops the URL that url.Parse quotes in its errors (it
// may hold a token), keeping the reason.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
