package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"plumb/internal/findings"
)

// ActionProvider adds actions to a finding's page. It is the hook the
// enforcement actions (approve, reject, release a planned action) plug
// into when they land: the provider lists what it offers for a finding,
// the page shows one button per action in the "enforcement" block of
// templates/finding.tmpl, and a press arrives at Do, only from an operator
// and only with a valid CSRF token. The console itself decides nothing.
type ActionProvider interface {
	// Actions lists the actions offered for a finding now (none is fine).
	Actions(ctx context.Context, rec findings.Record) ([]Action, error)
	// Do performs the named action for user; form holds the posted
	// fields (reason, for example). The returned error is shown to the
	// operator, so it must not carry secrets.
	Do(ctx context.Context, rec findings.Record, action, user string, form url.Values) error
}

// Action is one button.
type Action struct {
	// Name is the action's id in the form's address
	// (/findings/FP/actions/NAME).
	Name string
	// Label is the button's text, Description the sentence beside it.
	Label, Description string
	// NeedsReason adds a required reason field.
	NeedsReason bool
	// Danger marks destructive actions (a red button).
	Danger bool
}

// providedAction is an action with the provider that offered it.
type providedAction struct {
	Action
	provider ActionProvider
}

func (c *Console) actionsFor(ctx context.Context, rec findings.Record) ([]providedAction, error) {
	var out []providedAction
	for _, p := range c.opts.Actions {
		as, err := p.Actions(ctx, rec)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			out = append(out, providedAction{Action: a, provider: p})
		}
	}
	return out, nil
}

// findingAction runs a provider's action.
func (c *Console) findingAction(w http.ResponseWriter, r *http.Request, s *session) {
	fp := r.PathValue("fingerprint")
	rec, err := c.opts.Findings.Get(r.Context(), fp)
	if errors.Is(err, findings.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, "No finding has the fingerprint %s.", fp)
		return
	}
	if err != nil {
		c.internalError(w, r, s, "read the finding", err)
		return
	}
	acts, err := c.actionsFor(r.Context(), rec)
	if err != nil {
		c.internalError(w, r, s, "list the finding's actions", err)
		return
	}
	name := r.PathValue("action")
	for _, a := range acts {
		if a.Name != name {
			continue
		}
		if a.NeedsReason && r.PostForm.Get("reason") == "" {
			c.fail(w, r, s, http.StatusBadRequest, "%s needs a reason.", a.Label)
			return
		}
		if err := a.provider.Do(r.Context(), rec, name, s.User, r.PostForm); err != nil {
			c.fail(w, r, s, http.StatusConflict, "%s failed: %v", a.Label, err)
			return
		}
		redirect(w, r, "/findings/"+url.PathEscape(fp), "action")
		return
	}
	c.fail(w, r, s, http.StatusNotFound, "The action %q is not offered for this finding.", name)
}
