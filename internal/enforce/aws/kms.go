package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func kmsDeleters() map[string]deleter {
	return map[string]deleter{
		"aws_kms_key": {rank: rankKey, read: readKey, check: checkKey, delete: scheduleKeyDeletion,
			notFound: []string{"NotFoundException"}},
	}
}

// keyBefore is a key's metadata.
type keyBefore struct {
	KeyID       string `json:"key_id"`
	ARN         string `json:"arn"`
	State       string `json:"state"`
	Description string `json:"description,omitempty"`
	KeyUsage    string `json:"key_usage"`
	KeySpec     string `json:"key_spec"`
	KeyManager  string `json:"key_manager"`
}

func describeKey(ctx context.Context, c *clients, id string) (*kmstypes.KeyMetadata, error) {
	out, err := kms.NewFromConfig(c.cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		return nil, err
	}
	return out.KeyMetadata, nil
}

// readKey treats a key already pending deletion as gone: its deletion is
// scheduled, which is all plumb ever does to a key.
func readKey(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	k, err := describeKey(ctx, c, r.ID)
	if err != nil {
		return nil, false, err
	}
	if k == nil || k.KeyState == kmstypes.KeyStatePendingDeletion || k.KeyState == kmstypes.KeyStatePendingReplicaDeletion {
		return nil, true, nil
	}
	return keyBefore{KeyID: r.ID, ARN: aws.ToString(k.Arn), State: string(k.KeyState), Description: aws.ToString(k.Description),
		KeyUsage: string(k.KeyUsage), KeySpec: string(k.KeySpec), KeyManager: string(k.KeyManager)}, false, nil
}

func checkKey(ctx context.Context, c *clients, r model.Resource, _ plumbconfig.Enforcement, _ func(string, string) bool) (string, error) {
	k, err := describeKey(ctx, c, r.ID)
	if err != nil || k == nil {
		return "", err
	}
	if k.KeyManager == kmstypes.KeyManagerTypeAws {
		return "an AWS managed key", nil
	}
	return "", nil
}

// scheduleKeyDeletion never deletes a key at once: it schedules the
// deletion kms_deletion_window_in_days ahead, so it can be cancelled.
func scheduleKeyDeletion(ctx context.Context, c *clients, a *enforce.Action, s plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	days := s.KMSDeletionWindowDays
	if days == 0 {
		days = plumbconfig.DefaultKMSWindowDays
	}
	out, err := kms.NewFromConfig(c.cfg).ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{
		KeyId: aws.String(a.Resource.ID), PendingWindowInDays: aws.Int32(int32(days))})
	if err != nil {
		return "", err
	}
	when := ""
	if out.DeletionDate != nil {
		when = " on " + out.DeletionDate.UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("deletion scheduled%s (%d days; kms CancelKeyDeletion undoes it)", when, days), nil
}
