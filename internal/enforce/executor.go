package enforce

import (
	"context"
	"encoding/json"
	"errors"

	"plumb/internal/config"
	"plumb/internal/model"
)

// Executor carries out verbs on one provider's resources. Read, Caller
// and Check only read: a dry run calls them and nothing else, so an
// implementation must never write in them. Execute must be idempotent: it
// may be called again for the same action after a crash or a failed
// attempt, and a resource already gone is a success.
type Executor interface {
	// Provider is the model.Resource.Provider this executor acts on.
	Provider() string
	// Supports reports whether verb can be carried out on a Terraform type.
	Supports(verb Verb, typ string) bool
	// Rank orders the actions of one run, lowest first, so dependents go
	// before what they depend on (an instance before its security group).
	Rank(verb Verb, typ string) int
	// Caller returns the account the executor's credentials act in.
	Caller(ctx context.Context) (string, error)
	// Read re-reads resources live, keyed by ResourceKey. A resource
	// missing from found is gone; unknown holds the resources that could
	// not be read (and must not be acted on), with why.
	Read(ctx context.Context, rs []model.Resource) (found map[string]model.Resource, unknown map[string]error, err error)
	// Check reads what the action depends on and returns why it cannot
	// run now ("bucket holds 12 objects and force_empty is off"), or "".
	// acting tells whether another resource (type, id) is acted on in the
	// same run: a volume attached to an instance the run terminates is
	// not in the way.
	Check(ctx context.Context, a *Action, live model.Resource, s config.Enforcement, acting func(typ, id string) bool) (string, error)
	// Execute carries the action out and returns what was done, in a
	// sentence. It saves the before-state through rec before its first
	// write.
	Execute(ctx context.Context, a *Action, s config.Enforcement, rec Recorder) (string, error)
}

// AccountActor is an Executor that can also act in accounts other than
// the one of its credentials (AWS, through a role per account).
type AccountActor interface {
	// ActsIn returns nil when the executor can act in account, or why
	// not. It only reads (STS on AWS).
	ActsIn(ctx context.Context, account string) error
}

// Recorder is how an execution reports what it does.
type Recorder interface {
	// SaveBefore stores the resource's state before the first write. The
	// first save wins: a resumed execution gets the stored state back
	// instead of overwriting it with the half-changed resource.
	SaveBefore(ctx context.Context, before any) (json.RawMessage, error)
	// Call records one API call.
	Call(c Call)
}

// permanentError marks an execution failure no retry can fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks an execution error that retrying cannot fix (deletion
// protection on, a resource in use by something plumb may not touch): the
// action fails at once instead of using up its retries.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
