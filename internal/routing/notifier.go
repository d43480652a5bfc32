package routing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"plumb/internal/config"
	"plumb/internal/findings"
	"plumb/internal/receivers"
)

// GroupAll is the group_by value that makes every finding its own group
// (Alertmanager's "...").
const GroupAll = "..."

// Notifier turns the findings store into notifications at the right
// time. One Flush is one routing pass; the server runs it periodically
// (on one replica: two notifiers racing would both send) and
// `plumb scan --notify` runs it once with Immediate.
type Notifier struct {
	Store  *findings.Store
	Router *Router
	// Send hands a notification over for delivery (a durable enqueue); it
	// returns once the notification is safe, so the log can record it.
	Send func(ctx context.Context, n receivers.Notification) error
	// Now is the clock; nil is time.Now. Tests pass a fake one.
	Now func() time.Time
	// ExternalURL is copied to every notification, to link back to plumb.
	ExternalURL string
}

// FlushOptions changes one pass.
type FlushOptions struct {
	// Immediate sends new and changed groups without waiting for
	// group_wait or group_interval: a one-shot `plumb scan --notify` has
	// no later pass to send them in. Unchanged groups still wait for
	// repeat_interval, so running it twice does not repeat everything.
	Immediate bool
}

// group is one notification group in a pass.
type group struct {
	receiver string
	key      string
	labels   map[string]string
	route    *config.Route
	records  []findings.Record
}

func stateKey(receiver, groupKey string) string { return receiver + "\x00" + groupKey }

// Flush runs one routing pass and returns how many notifications it sent.
// It loads open findings and those a receiver was told about that have
// since been resolved or suppressed; leaves out findings an active
// silence matches (keeping what their receivers last heard, so they are
// brought up to date when the silence ends); routes and groups the rest;
// and sends each group that is due: a new group group_wait after it first
// appeared, a changed group (a finding added, removed, resolved,
// suppressed or changed) group_interval after its last notification, an
// unchanged group again after repeat_interval. The log is saved only after
// Send succeeded; a failing Send stops the pass with its error, and the
// group is sent again next pass, so nothing is lost.
func (n *Notifier) Flush(ctx context.Context, opts FlushOptions) (int, error) {
	if n.Store == nil || n.Router == nil || n.Send == nil {
		return 0, errors.New("notifier: Store, Router and Send are required")
	}
	now := time.Now()
	if n.Now != nil {
		now = n.Now()
	}
	states, err := n.Store.NotifyStates(ctx)
	if err != nil {
		return 0, fmt.Errorf("notifier: %w", err)
	}
	stateBy := make(map[string]findings.NotifyState, len(states))
	for _, st := range states {
		stateBy[stateKey(st.Receiver, st.GroupKey)] = st
	}
	recs, err := n.Store.Routable(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("notifier: %w", err)
	}
	// Findings receivers were told about but which are no longer open:
	// they need one more notification to close them.
	have := make(map[string]bool, len(recs))
	for _, r := range recs {
		have[r.Finding.Fingerprint] = true
	}
	var told []string
	for _, st := range states {
		for fp := range st.Sent {
			if !have[fp] {
				have[fp] = true
				told = append(told, fp)
			}
		}
	}
	sort.Strings(told)
	more, err := n.Store.GetMany(ctx, told)
	if err != nil {
		return 0, fmt.Errorf("notifier: %w", err)
	}
	recs = append(recs, more...)
	silences, err := n.Store.ActiveSilences(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("notifier: %w", err)
	}

	groups := map[string]*group{}
	silenced := map[string]bool{}
	for _, r := range recs {
		fp := r.Finding.Fingerprint
		labels := findings.Labels(r.Finding, r.Status)
		if isSilenced(silences, labels) {
			silenced[fp] = true
			continue
		}
		for _, m := range n.Router.Match(labels) {
			gl, kl := groupLabels(m.Route.GroupBy, labels)
			key := GroupKey(m.RouteID, m.Receiver, kl)
			sk := stateKey(m.Receiver, key)
			if r.Status != findings.StatusOpen {
				// Closed findings only go where they were announced.
				if _, told := stateBy[sk].Sent[fp]; !told {
					continue
				}
			}
			g := groups[sk]
			if g == nil {
				g = &group{receiver: m.Receiver, key: key, labels: gl, route: m.Route}
				groups[sk] = g
			}
			g.records = append(g.records, r)
		}
	}

	// Groups left with nothing to say: forget them, unless a silence hides
	// findings the receiver still believes open.
	for _, st := range states {
		if groups[stateKey(st.Receiver, st.GroupKey)] != nil || len(carried(st, silenced)) > 0 {
			continue
		}
		if err := n.Store.DeleteNotifyState(ctx, st.Receiver, st.GroupKey); err != nil {
			return 0, fmt.Errorf("notifier: %w", err)
		}
	}

	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sent := 0
	for _, sk := range keys {
		g := groups[sk]
		st, known := stateBy[sk]
		if !known {
			st = findings.NotifyState{Receiver: g.receiver, GroupKey: g.key, FirstSeen: now}
		}
		cur := make(map[string]string, len(g.records))
		for _, r := range g.records {
			cur[r.Finding.Fingerprint] = r.Status + "|" + contentHash(r)
		}
		var due bool
		switch {
		case st.LastSent.IsZero():
			due = opts.Immediate || !now.Before(st.FirstSeen.Add(*g.route.GroupWait))
		case changed(cur, st.Sent, silenced):
			due = opts.Immediate || !now.Before(st.LastSent.Add(*g.route.GroupInterval))
		default:
			due = !now.Before(st.LastSent.Add(*g.route.RepeatInterval))
		}
		if !due {
			if !known {
				// Remember when the group appeared, for group_wait.
				if err := n.Store.SaveNotifyState(ctx, st); err != nil {
					return sent, fmt.Errorf("notifier: %w", err)
				}
			}
			continue
		}
		if err := n.Send(ctx, n.notification(g)); err != nil {
			return sent, fmt.Errorf("notifier: send group %s to %s: %w", g.key, g.receiver, err)
		}
		sent++
		next := carried(st, silenced)
		for fp, v := range cur {
			if strings.HasPrefix(v, findings.StatusOpen+"|") {
				next[fp] = v
			}
		}
		if len(next) == 0 {
			// Everything the receiver knew of is closed.
			if err := n.Store.DeleteNotifyState(ctx, g.receiver, g.key); err != nil {
				return sent, fmt.Errorf("notifier: %w", err)
			}
			continue
		}
		st.LastSent = now
		st.Sent = next
		if err := n.Store.SaveNotifyState(ctx, st); err != nil {
			return sent, fmt.Errorf("notifier: %w", err)
		}
	}
	return sent, nil
}

func isSilenced(silences []findings.CompiledSilence, labels map[string]string) bool {
	for _, s := range silences {
		if s.Silences(labels) {
			return true
		}
	}
	return false
}

// carried is the part of a group's log that silenced findings hold: kept
// as the receiver last heard it, so the end of the silence is compared
// against what the receiver actually knows.
func carried(st findings.NotifyState, silenced map[string]bool) map[string]string {
	out := map[string]string{}
	for fp, v := range st.Sent {
		if silenced[fp] {
			out[fp] = v
		}
	}
	return out
}

// changed reports whether the group differs from what its receiver was
// last told, ignoring silenced findings.
func changed(cur, sent map[string]string, silenced map[string]bool) bool {
	for fp, v := range cur {
		if sent[fp] != v {
			return true
		}
	}
	for fp := range sent {
		if _, ok := cur[fp]; !ok && !silenced[fp] {
			return true
		}
	}
	return false
}

// contentHash covers what a receiver shows of a finding (kind, resource,
// changes, message...) but not its counters or times, so a finding seen
// again unchanged does not make its group "changed" at every scan.
func contentHash(r findings.Record) string {
	b, err := json.Marshal(r.Finding)
	if err != nil {
		// A finding that decoded from the store encodes again; should it
		// not, a constant hash only costs a missed "changed".
		return ""
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// groupLabels picks the group_by labels of a finding, and the labels its
// group key is made of (the same, except for "..."). With "..." every
// finding is its own group: labelled with all its labels but status, and
// keyed by its fingerprint alone, so the group survives the finding's
// tags changing or it resolving.
func groupLabels(groupBy []string, labels map[string]string) (group, key map[string]string) {
	group = map[string]string{}
	for _, name := range groupBy {
		if name == GroupAll {
			for k, v := range labels {
				if k != "status" {
					group[k] = v
				}
			}
			return group, map[string]string{"fingerprint": labels["fingerprint"]}
		}
		group[name] = labels[name]
	}
	return group, group
}

// GroupKey identifies a group across passes and restarts: a hash of the
// route's position, the receiver and the sorted group label values. It is
// hex, so receivers can put it in URLs and issue markers.
func GroupKey(routeID, receiver string, groupLabels map[string]string) string {
	names := make([]string, 0, len(groupLabels))
	for k := range groupLabels {
		names = append(names, k)
	}
	sort.Strings(names)
	// JSON strings, so no label value can imitate a separator.
	parts := []string{routeID, receiver}
	for _, k := range names {
		parts = append(parts, k, groupLabels[k])
	}
	b, _ := json.Marshal(parts) // a []string always encodes
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

func (n *Notifier) notification(g *group) receivers.Notification {
	rs := append([]findings.Record(nil), g.records...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Finding.Fingerprint < rs[j].Finding.Fingerprint })
	fs := make([]receivers.Finding, len(rs))
	for i, r := range rs {
		fs[i] = receivers.Finding{
			Finding:    r.Finding,
			Status:     r.Status,
			FirstSeen:  r.FirstSeen,
			LastSeen:   r.LastSeen,
			Count:      r.Count,
			ResolvedAt: r.ResolvedAt,
			Principal:  r.Finding.Principal,
		}
	}
	return receivers.Notification{
		Receiver:    g.receiver,
		GroupKey:    g.key,
		GroupLabels: g.labels,
		Findings:    fs,
		ExternalURL: n.ExternalURL,
	}
}

// The store's receiver state is what receivers are given; this breaks the
// build if the two drift apart (findings cannot import receivers).
var _ receivers.State = (*findings.ReceiverState)(nil)
