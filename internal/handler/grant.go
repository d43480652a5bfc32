package handler

import (
	"context"

	"plumb/internal/audit"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

// Grant attaches a configured IAM policy to a configured IAM group when a
// resource of one of its types appears (whoever created it): the readers
// of every new bucket get their read policy without a ticket. Attaching a
// policy that is attached already is a success; the action is recorded
// like every enforcement action.
type Grant struct {
	Types    []string
	Policy   string
	Group    string
	Enforcer func() Enforcer
}

// Name identifies the handler in subscriptions and logs.
func (Grant) Name() string { return "grant" }

// Handle finds nothing: grant acts in AfterStore.
func (Grant) Handle(context.Context, Delivery) ([]model.Finding, error) { return nil, nil }

// AfterStore attaches the policy when the event created a resource of one
// of the types.
func (h Grant) AfterStore(ctx context.Context, d Delivery, _ []model.Finding) error {
	rs := created(d.Event, h.Types)
	if len(rs) == 0 {
		return nil
	}
	account := rs[0].Account
	if account == "" {
		account = d.Event.Account
	}
	group := model.Resource{Provider: "aws", Type: "aws_iam_group", ID: h.Group, Account: account}
	a := &enforce.Action{Verb: enforce.VerbGrant, Resource: group, Params: map[string]string{"policy": h.Policy}}
	return act(ctx, h.Enforcer, d, "grant", []*enforce.Action{a})
}

// OperationFailed reports failed cloud operations (Event Grid
// ResourceWriteFailure and ResourceDeleteFailure, CloudTrail records with
// an errorCode) as audit.operation_failed findings, whoever made them.
type OperationFailed struct{}

// Name identifies the handler in subscriptions and logs.
func (OperationFailed) Name() string { return "operation-failed" }

// Handle returns one finding for a failed write, none otherwise.
func (OperationFailed) Handle(_ context.Context, d Delivery) ([]model.Finding, error) {
	if f, ok := audit.FailedOperation(d.Event, d.Environment); ok {
		return []model.Finding{f}, nil
	}
	return nil, nil
}
