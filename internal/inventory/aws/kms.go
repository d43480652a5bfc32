package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// kmsListers covers customer managed KMS keys and their aliases. Keys that
// AWS manages for its services (alias/aws/...) are not resources anyone
// declares, so they are never listed.
func kmsListers() []lister {
	return []lister{
		{
			Type: inventory.Type{
				Name:     "aws_kms_key",
				Service:  "kms",
				Compared: []string{"description", "is_enabled"},
			},
			list:      listKMSKeys,
			fromState: kmsKeyFromState,
			// Imported-material and multi-Region replica keys are the same
			// live object as far as the KMS API is concerned.
			aliases: []string{"aws_kms_external_key", "aws_kms_replica_key", "aws_kms_replica_external_key"},
		},
		{
			Type: inventory.Type{
				Name:     "aws_kms_alias",
				Service:  "kms",
				Compared: []string{"target_key_id"},
			},
			list:      listKMSAliases,
			fromState: kmsAliasFromState,
		},
	}
}

// Largest page sizes ListKeys and ListAliases accept.
const (
	kmsKeysPageSize    = 1000
	kmsAliasesPageSize = 100
)

// awsManagedAliasPrefix marks the aliases (and so the keys) AWS creates
// for its own services.
const awsManagedAliasPrefix = "alias/aws/"

// listKMSKeys lists customer managed keys that Terraform would consider to
// exist.
//
// ListKeys returns only ids and ARNs. Two facts need more: whether AWS
// manages the key, and whether it is scheduled for deletion (Terraform
// treats a key pending deletion as destroyed, so listing it would report
// every key destroyed in the last 7-30 days as unmanaged, and would hide a
// key scheduled for deletion out of band). ListAliases answers the first
// for every AWS managed key at one call per hundred aliases, since each
// carries an alias/aws/... alias. Only DescribeKey answers the second, and
// no bulk form exists, so the remaining (customer) keys cost one
// DescribeKey each, at most s.parallel at a time. Customer keys are billed
// monthly and few per account, so this stays cheap; the same call gives
// the compared description and enabled flag.
func listKMSKeys(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := kms.NewFromConfig(s.config(region))
	aliases, err := kmsListAliases(ctx, client, region)
	if err != nil {
		return nil, err
	}
	managed := map[string]bool{}
	names := map[string][]string{}
	for _, a := range aliases {
		target, name := aws.ToString(a.TargetKeyId), aws.ToString(a.AliasName)
		if target == "" {
			continue
		}
		if strings.HasPrefix(name, awsManagedAliasPrefix) {
			managed[target] = true
			continue
		}
		names[target] = append(names[target], name)
	}
	for _, n := range names {
		sort.Strings(n)
	}

	var keys []kmstypes.KeyListEntry
	p := kms.NewListKeysPaginator(client, &kms.ListKeysInput{Limit: aws.Int32(kmsKeysPageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("kms ListKeys in %s: %w", region, err)
		}
		for _, k := range page.Keys {
			if !managed[aws.ToString(k.KeyId)] {
				keys = append(keys, k)
			}
		}
	}

	out := make([]model.Resource, len(keys))
	keep := make([]bool, len(keys))
	err = parallelDo(ctx, len(keys), s.parallel, func(ctx context.Context, i int) error {
		id := aws.ToString(keys[i].KeyId)
		r := model.Resource{ID: id, ARN: aws.ToString(keys[i].KeyArn)}
		if n := names[id]; len(n) > 0 {
			// The first alias is the friendliest name for reports.
			r.Name = n[0]
		}
		resp, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		switch {
		case err == nil:
			md := resp.KeyMetadata
			if md == nil || md.KeyManager == kmstypes.KeyManagerTypeAws ||
				md.KeyState == kmstypes.KeyStatePendingDeletion ||
				md.KeyState == kmstypes.KeyStatePendingReplicaDeletion {
				return nil
			}
			r.Attributes = map[string]any{
				"description": aws.ToString(md.Description),
				"is_enabled":  md.Enabled,
			}
			if s.policyAttrs {
				if err := kmsPolicyAttributes(ctx, client, &r, md); err != nil {
					return err
				}
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case apiErrorCode(err) == "NotFoundException":
			return nil
		case apiErrorCode(err) == "AccessDeniedException":
			// A key policy can lock the scanner out of one key. It still
			// exists; its attributes are unknown and so not compared.
		default:
			return fmt.Errorf("kms DescribeKey %s in %s: %w", id, region, err)
		}
		out[i], keep[i] = r, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for i, r := range out {
		if keep[i] {
			kept = append(kept, r)
		}
	}
	if len(kept) > 0 {
		idx := appTagIndex(ctx, s, region, tagsKMS)
		for i := range kept {
			kept[i].Tags = appIndexTags(idx, kept[i].ARN)
		}
	}
	return kept, nil
}

// kmsListAliases pages through every alias of a region.
func kmsListAliases(ctx context.Context, client *kms.Client, region string) ([]kmstypes.AliasListEntry, error) {
	var out []kmstypes.AliasListEntry
	p := kms.NewListAliasesPaginator(client, &kms.ListAliasesInput{Limit: aws.Int32(kmsAliasesPageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("kms ListAliases in %s: %w", region, err)
		}
		out = append(out, page.Aliases...)
	}
	return out, nil
}

// kmsKeyFromState maps aws_kms_key and its aliased types; all import by
// key id. aws_kms_key says is_enabled where the others say enabled.
func kmsKeyFromState(attrs map[string]any) (model.Resource, bool) {
	id := str(attrs, "key_id")
	if id == "" {
		id = str(attrs, "id")
	}
	if id == "" {
		return model.Resource{}, false
	}
	r := model.Resource{
		ID:         id,
		ARN:        str(attrs, "arn"),
		Tags:       stateTags(attrs),
		Attributes: map[string]any{},
	}
	appCopyString(r.Attributes, attrs, "description")
	if !appCopyBool(r.Attributes, attrs, "is_enabled", "is_enabled") {
		appCopyBool(r.Attributes, attrs, "enabled", "is_enabled")
	}
	return r, true
}

// listKMSAliases lists customer aliases. Predefined alias/aws/... aliases
// belong to AWS managed keys, and aliases without a target are AWS's
// reserved names for keys not created yet.
func listKMSAliases(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := kms.NewFromConfig(s.config(region))
	aliases, err := kmsListAliases(ctx, client, region)
	if err != nil {
		return nil, err
	}
	var out []model.Resource
	for _, a := range aliases {
		name := aws.ToString(a.AliasName)
		if strings.HasPrefix(name, awsManagedAliasPrefix) || a.TargetKeyId == nil {
			continue
		}
		out = append(out, model.Resource{
			ID:   name,
			Name: name,
			ARN:  aws.ToString(a.AliasArn),
			// Aliases cannot carry tags: known to be none.
			Tags:       map[string]string{},
			Attributes: map[string]any{"target_key_id": aws.ToString(a.TargetKeyId)},
		})
	}
	return out, nil
}

// kmsAliasFromState maps aws_kms_alias, whose import id is the alias name.
func kmsAliasFromState(attrs map[string]any) (model.Resource, bool) {
	name := str(attrs, "name")
	if name == "" {
		name = str(attrs, "id")
	}
	if name == "" {
		return model.Resource{}, false
	}
	r := model.Resource{
		ID:         name,
		Name:       name,
		ARN:        str(attrs, "arn"),
		Tags:       map[string]string{},
		Attributes: map[string]any{},
	}
	appCopyString(r.Attributes, attrs, "target_key_id")
	return r, true
}
