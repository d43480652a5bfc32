// Package routing decides which receivers hear about which findings, and
// when. The routing tree of plumb.yaml is walked the way Alertmanager
// walks its own, so operators reuse what they know; the Notifier then
// groups findings per route and times notifications with group_wait,
// group_interval and repeat_interval, keeping its log in the findings
// store so a restart neither repeats nor forgets.
package routing

import (
	"strconv"

	"plumb/internal/config"
	"plumb/internal/findings"
)

// Router matches finding labels against the routing tree. It works on its
// own copy of the tree with every inherited setting filled in, so callers
// may hand it a tree that did not go through the config loader (tests, a
// tree built in code) and get the loader's semantics.
type Router struct {
	root *node
}

type node struct {
	route    *config.Route
	id       string
	matchers []findings.Matcher
	// broken is a node whose matchers did not parse; it matches nothing,
	// which is safer than matching everything. The config loader rejects
	// such trees, so this only happens to hand-built ones.
	broken   bool
	children []*node
}

// Match is one place a finding goes: the receiver, the route node that
// sent it there (with effective group_by and intervals) and the node's
// stable position in the tree, which keys the notification groups.
type Match struct {
	Receiver string
	// Route is the router's effective copy of the node: receiver,
	// group_by and intervals inherited from its ancestors, defaults at
	// the root; its Routes are left out.
	Route *config.Route
	// RouteID is the node's path from the root ("0" is the root, "0.2.1"
	// the second child of the third child), stable while the tree's shape
	// does not change.
	RouteID string
}

// NewRouter builds a router over root. A nil root routes nothing.
func NewRouter(root *config.Route) *Router {
	if root == nil {
		return &Router{}
	}
	return &Router{root: build(root, nil, "0")}
}

func build(r *config.Route, parent *config.Route, id string) *node {
	eff := *r
	eff.Routes = nil
	eff.Inherit(parent)
	n := &node{route: &eff, id: id, matchers: r.Compiled}
	if len(r.Compiled) != len(r.Matchers) {
		ms, err := findings.ParseMatchers(r.Matchers)
		n.matchers, n.broken = ms, err != nil
	}
	for i := range r.Routes {
		n.children = append(n.children, build(&r.Routes[i], &eff, id+"."+strconv.Itoa(i)))
	}
	return n
}

// Match returns where a finding with these labels goes: down the first
// child whose matchers pass (depth first), on to later siblings when that
// child has continue set, and to the node itself when no child takes it.
// The root takes everything no child does.
func (r *Router) Match(labels map[string]string) []Match {
	if r.root == nil {
		return nil
	}
	return r.root.match(labels)
}

func (n *node) match(labels map[string]string) []Match {
	if n.broken || !findings.MatchAll(n.matchers, labels) {
		return nil
	}
	var out []Match
	for _, c := range n.children {
		m := c.match(labels)
		if len(m) == 0 {
			continue
		}
		out = append(out, m...)
		if !c.route.Continue {
			break
		}
	}
	if len(out) == 0 {
		out = []Match{{Receiver: n.route.Receiver, Route: n.route, RouteID: n.id}}
	}
	return out
}
