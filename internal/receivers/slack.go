package receivers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"plumb/internal/config"
	"plumb/internal/model"
)

// Slack limits (Block Kit reference): a message holds at most 50 blocks,
// a header's plain text 150 characters, a section's text 3000, each
// section field 2000 and a context 10 elements. Longer content is cut
// here rather than rejected by Slack as invalid_blocks, which would be a
// permanent failure.
const (
	slackMaxBlocks     = 50
	slackMaxHeader     = 150
	slackMaxSectionTxt = 3000
	slackMaxField      = 2000
	slackMaxFallback   = 3000
	slackTimeout       = 10 * time.Second
)

// Slack posts a notification as one Block Kit message to an incoming
// webhook. Slack keeps no id for incoming-webhook messages, so it cannot
// dedupe: a retry after a request that timed out but was posted shows the
// message twice. Only transport errors, 429 and 5xx are retried.
type Slack struct {
	name   string
	url    string
	poster *httpPoster
	now    func() time.Time
}

// NewSlack builds a Slack receiver. The incoming-webhook URL is a
// credential (anyone holding it can post to the channel), so it appears
// in no error this receiver returns. client may be nil.
func NewSlack(name string, cfg config.SlackConfig, client *http.Client) (*Slack, error) {
	raw := cfg.URL.Value()
	if raw == "" {
		return nil, fmt.Errorf("slack receiver %s: url is required", name)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("slack receiver %s: url is not a URL: %w", name, redactURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("slack receiver %s: url must be http(s)://host/path", name)
	}
	hide := []string{raw}
	if len(u.Path) > 1 {
		hide = append(hide, u.Path, u.EscapedPath())
	}
	if u.RawQuery != "" {
		hide = append(hide, u.RawQuery)
	}
	return &Slack{
		name:   name,
		url:    raw,
		poster: newHTTPPoster(client, "slack receiver "+name, slackTimeout, hide...),
		now:    time.Now,
	}, nil
}

// Name is the configured receiver name.
func (s *Slack) Name() string { return s.name }

// Deliver posts the message. Slack answers 200 "ok"; 429 comes with
// Retry-After; 400 invalid_payload, 403 action_prohibited, 404
// no_service or channel_not_found and 410 channel_is_archived are
// configuration problems and permanent.
func (s *Slack) Deliver(ctx context.Context, n Notification) error {
	body, err := json.Marshal(slackMessageOf(n))
	if err != nil {
		return Permanent(fmt.Errorf("slack receiver %s: encode message: %w", s.name, err))
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.poster.post(ctx, s.url, h, body)
	if err != nil {
		return err
	}
	return s.poster.classify(resp, s.now())
}

// slackMessage is an incoming-webhook payload.
type slackMessage struct {
	// Text is the fallback shown in notifications and by clients that
	// cannot render blocks.
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackMessageOf renders a notification as an incoming-webhook payload: a
// text fallback and blocks — per finding a header with its Title and a
// section with the message and fields (environment, severity, resource,
// status) — ending with a context block naming the group and linking to
// plumb. Open findings come first, most severe first. When the findings
// do not fit Slack's 50 blocks, the last section summarises the rest by
// status.
func slackMessageOf(n Notification) slackMessage {
	fs := append([]Finding(nil), n.Findings...)
	sort.SliceStable(fs, func(i, j int) bool {
		if ri, rj := statusRank(fs[i].Status), statusRank(fs[j].Status); ri != rj {
			return ri < rj
		}
		return severityRank(fs[i].Severity) > severityRank(fs[j].Severity)
	})

	// Two blocks per finding; one block is kept for the context and, when
	// findings are left out, one for the summary.
	fit := (slackMaxBlocks - 1) / 2
	if len(fs) > fit {
		fit = (slackMaxBlocks - 2) / 2
	}
	shown, rest := fs, []Finding(nil)
	if len(fs) > fit {
		shown, rest = fs[:fit], fs[fit:]
	}

	blocks := make([]slackBlock, 0, slackMaxBlocks)
	for _, f := range shown {
		blocks = append(blocks,
			slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(Title(f), slackMaxHeader)}},
			findingSection(f))
	}
	if len(rest) > 0 {
		blocks = append(blocks, slackBlock{Type: "section", Text: &slackText{
			Type: "mrkdwn",
			Text: truncate(fmt.Sprintf("…and %d more %s (%s) not shown here.", len(rest), plural(len(rest), "finding"), statusCounts(rest)), slackMaxSectionTxt),
		}})
	}
	ctxText := fmt.Sprintf("plumb · receiver %s · %d %s (%s)", escapeMrkdwn(n.Receiver), len(fs), plural(len(fs), "finding"), statusCounts(fs))
	if len(n.GroupLabels) > 0 {
		ctxText += " · " + escapeMrkdwn(labelString(n.GroupLabels))
	}
	elems := []slackText{{Type: "mrkdwn", Text: truncate(ctxText, slackMaxField)}}
	if n.ExternalURL != "" {
		elems = append(elems, slackText{Type: "mrkdwn", Text: "<" + slackLinkURL(n.ExternalURL) + "|Open in plumb>"})
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: elems})

	return slackMessage{Text: slackFallback(fs), Blocks: blocks}
}

func findingSection(f Finding) slackBlock {
	res := f.Resource.Type + " " + f.Resource.ID
	if f.Resource.Region != "" {
		res += " (" + f.Resource.Region + ")"
	}
	env := f.Environment
	if env == "" {
		env = "-"
	}
	status := f.Status
	if f.Status == "resolved" && f.ResolvedAt != nil {
		status += " at " + f.ResolvedAt.UTC().Format(time.RFC3339)
	} else if f.Count > 1 {
		status += fmt.Sprintf(" (seen %d times)", f.Count)
	}
	if e := f.Enforcement; e != nil {
		status += " · plumb " + e.Verb + ": " + e.Result
	}
	field := func(k, v string) slackText {
		return slackText{Type: "mrkdwn", Text: truncate("*"+k+"*\n"+escapeMrkdwn(v), slackMaxField)}
	}
	b := slackBlock{Type: "section", Fields: []slackText{
		field("Environment", env),
		field("Severity", string(f.Severity)),
		field("Resource", res),
		field("Status", status),
	}}
	if msg := strings.TrimSpace(f.Message); msg != "" {
		b.Text = &slackText{Type: "mrkdwn", Text: truncate(escapeMrkdwn(msg), slackMaxSectionTxt)}
	}
	return b
}

// slackFallback is the message's text: the title of a single finding, a
// count and the first titles otherwise.
func slackFallback(fs []Finding) string {
	switch len(fs) {
	case 0:
		return "plumb: no findings"
	case 1:
		return escapeMrkdwn(truncate(statusPrefix(fs[0])+Title(fs[0]), slackMaxFallback))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "plumb: %d findings (%s): ", len(fs), statusCounts(fs))
	for i, f := range fs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(statusPrefix(f) + Title(f))
		if b.Len() > slackMaxFallback {
			break
		}
	}
	return escapeMrkdwn(truncate(b.String(), slackMaxFallback))
}

func statusPrefix(f Finding) string {
	if f.Status == "resolved" {
		return "[RESOLVED] "
	}
	return ""
}

func statusRank(s string) int {
	switch s {
	case "open":
		return 0
	case "resolved":
		return 1
	}
	return 2
}

func severityRank(s model.Severity) int {
	switch s {
	case model.SeverityCritical:
		return 4
	case model.SeverityHigh:
		return 3
	case model.SeverityMedium:
		return 2
	case model.SeverityLow:
		return 1
	}
	return 0
}

// statusCounts reads "2 open, 1 resolved".
func statusCounts(fs []Finding) string {
	counts := map[string]int{}
	for _, f := range fs {
		s := f.Status
		if s == "" {
			s = "open"
		}
		counts[s]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if ri, rj := statusRank(keys[i]), statusRank(keys[j]); ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = strconv.Itoa(counts[k]) + " " + k
	}
	return strings.Join(parts, ", ")
}

func labelString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// escapeMrkdwn escapes the three characters Slack's mrkdwn treats as
// control characters, so resource names cannot inject links or mentions.
func escapeMrkdwn(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackLinkURL keeps a URL usable inside <url|text>.
func slackLinkURL(u string) string {
	return strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", " ", "%20").Replace(u)
}

// truncate cuts s to at most max characters (runes), marking the cut.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}
