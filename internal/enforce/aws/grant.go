package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"plumb/internal/enforce"
)

// grantBefore is what a grant saves: the policies attached to the group
// before.
type grantBefore struct {
	Group    string   `json:"group"`
	Attached []string `json:"attached"`
}

// grant attaches the action's policy (Params["policy"]) to its group (an
// aws_iam_group, id = the group's name). A policy attached already is a
// success.
func (e *Executor) grant(ctx context.Context, c *clients, a *enforce.Action, rec enforce.Recorder) (string, error) {
	policy := a.Params["policy"]
	if a.Resource.Type != "aws_iam_group" || policy == "" {
		return "", enforce.Permanent(errors.New("a grant names an aws_iam_group and a policy"))
	}
	// Two resources appearing at once give two grants on one group; the
	// read and the attach of one must not interleave with the other's,
	// or both would find the policy missing and both say they attached
	// it. (IAM's attach is idempotent, so across replicas the effect is
	// the same; only the result's wording could differ.)
	unlock := e.lockGroup(c.account + "/" + a.Resource.ID)
	defer unlock()
	client := iam.NewFromConfig(c.cfg)
	group := aws.String(a.Resource.ID)
	b := grantBefore{Group: a.Resource.ID, Attached: []string{}}
	p := iam.NewListAttachedGroupPoliciesPaginator(client, &iam.ListAttachedGroupPoliciesInput{GroupName: group})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isCode(err, []string{"NoSuchEntity"}) {
			return "", enforce.Permanent(fmt.Errorf("IAM group %s does not exist", a.Resource.ID))
		}
		if err != nil {
			return "", fmt.Errorf("list the group's policies: %s", errorText(err))
		}
		for _, ap := range page.AttachedPolicies {
			b.Attached = append(b.Attached, aws.ToString(ap.PolicyArn))
		}
	}
	if _, err := rec.SaveBefore(ctx, b); err != nil {
		return "", err
	}
	for _, arn := range b.Attached {
		if arn == policy {
			return "policy " + policy + " was attached already", nil
		}
	}
	if _, err := client.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: group, PolicyArn: aws.String(policy)}); err != nil {
		if isCode(err, []string{"NoSuchEntity", "InvalidInput"}) {
			return "", enforce.Permanent(fmt.Errorf("attach %s to %s: %s", policy, a.Resource.ID, errorText(err)))
		}
		return "", fmt.Errorf("attach %s to %s: %s", policy, a.Resource.ID, errorText(err))
	}
	return "policy " + policy + " attached to group " + a.Resource.ID, nil
}

// lockGroup serializes the grants of one group in this process and
// returns the unlock.
func (e *Executor) lockGroup(key string) func() {
	m, _ := e.groupLocks.LoadOrStore(key, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
