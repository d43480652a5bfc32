package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"plumb/internal/findings"
)

// ActionProvider adds enforcement's state and actions to a finding's
// page. plumb serve plugs approve, reject and release in through it (see
// internal/server): the provider says what it knows and offers for a
// finding, the page shows the notes to everyone and one button per action
// to operators in the "enforcement" block of templates/finding.tmpl, and a
// press arrives at Do, only from an operator and only with a valid CSRF
// token. The console itself decides nothing.
type ActionProvider interface {
	// Offer lists what the provider shows for a finding now (nothing is
	// fine).
	Offer(ctx context.Context, rec findings.Record) (Offer, error)
	// Do performs the named action for user; form holds the posted
	// fields (reason, for example). The returned error is shown to the
	// operator, so it must not carry secrets; a *RefusedError is answered
	// 403, any other error 409.
	Do(ctx context.Context, rec findings.Record, action, user string, form url.Values) error
}

// Offer is what a provider shows on a finding's page.
type Offer struct {
	// Notes are sentences on where enforcement stands for the finding
	// (an action awaiting approval, a quarantine and why it cannot be
	// released here), shown to viewers and operators alike.
	Notes []string
	// Actions are the buttons, shown to operators only.
	Actions []Action
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

// RefusedError is a provider's refusal because of who asks (not an
// approver of the environment, approving their own request): the console
// answers 403 with the message, as the API does.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// providedAction is an action with the provider that offered it.
type providedAction struct {
	Action
	provider ActionProvider
}

// offers collects the providers' notes and actions for a finding.
func (c *Console) offers(ctx context.Context, rec findings.Record) ([]string, []providedAction, error) {
	var notes []string
	var out []providedAction
	for _, p := range c.opts.Actions {
		o, err := p.Offer(ctx, rec)
		if err != nil {
			return nil, nil, err
		}
		notes = append(notes, o.Notes...)
		for _, a := range o.Actions {
			out = append(out, providedAction{Action: a, provider: p})
		}
	}
	return notes, out, nil
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
	_, acts, err := c.offers(r.Context(), rec)
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
			status := http.StatusConflict
			var refused *RefusedError
			if errors.As(err, &refused) {
				status = http.StatusForbidden
			}
			c.log.Info("console: finding action refused", "fingerprint", fp, "action", name, "user", s.User, "error", err)
			c.fail(w, r, s, status, "%s failed: %v", a.Label, err)
			return
		}
		c.log.Info("console: finding action", "fingerprint", fp, "action", name, "user", s.User)
		redirect(w, r, "/findings/"+url.PathEscape(fp), "action")
		return
	}
	c.fail(w, r, s, http.StatusNotFound, "The action %q is not offered for this finding.", name)
}
