package aws

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"plumb/internal/model"
	"plumb/internal/testenv"
)

// iamTestTrust is a trust policy as jsonencode() writes it: compact, keys
// sorted, single values left as strings.
const iamTestTrust = `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}`

const iamTestPolicyDoc = `{"Statement":[{"Action":["s3:GetObject","s3:ListBucket"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}`

// iamFixtures creates one resource of each IAM type the way the AWS
// provider does and returns the state it writes (checked against a real
// terraform apply of provider 5.100 against moto).
func iamFixtures() []fixture {
	return []fixture{
		{
			typ: "aws_iam_role",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				return iamTestCreateRole(t, ctx, cfg, "plumb-fixture-role", "/app/", map[string]string{"env": "test"}), nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := iam.NewFromConfig(cfg).DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(str(attrs, "name"))})
				storageIAMErr(t, "delete role", err)
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := iam.NewFromConfig(cfg).TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(str(attrs, "name")), Tags: iamTestTags(map[string]string{"env": "prod"})})
				storageIAMErr(t, "tag role", err)
				return "tags.env"
			},
		},
		{
			typ: "aws_iam_user",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				const name = "plumb-fixture-user"
				tags := map[string]string{"env": "test"}
				o, err := iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Tags: iamTestTags(tags)})
				storageIAMErr(t, "create user", err)
				return map[string]any{
					"id": name, "name": name, "arn": aws.ToString(o.User.Arn), "path": "/",
					"force_destroy": false, "permissions_boundary": "", "unique_id": aws.ToString(o.User.UserId),
					"tags": storageIAMAnyMap(tags), "tags_all": storageIAMAnyMap(tags),
				}, nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := iam.NewFromConfig(cfg).DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(str(attrs, "name"))})
				storageIAMErr(t, "delete user", err)
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := iam.NewFromConfig(cfg).TagUser(ctx, &iam.TagUserInput{UserName: aws.String(str(attrs, "name")), Tags: iamTestTags(map[string]string{"env": "prod"})})
				storageIAMErr(t, "tag user", err)
				return "tags.env"
			},
		},
		{
			typ: "aws_iam_group",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				const name = "plumb-fixture-group"
				o, err := iam.NewFromConfig(cfg).CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(name)})
				storageIAMErr(t, "create group", err)
				return map[string]any{
					"id": name, "name": name, "arn": aws.ToString(o.Group.Arn), "path": "/",
					"unique_id": aws.ToString(o.Group.GroupId),
				}, nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := iam.NewFromConfig(cfg).DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String(str(attrs, "name"))})
				storageIAMErr(t, "delete group", err)
			},
			// Groups have no tags; only their path can drift, and moto 5.2's
			// UpdateGroup ignores NewPath unless the group is renamed too, so
			// there is no out-of-band change to make here. TestIAMList checks
			// path drift against state instead.
			change: nil,
		},
		{
			typ: "aws_iam_policy",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				const name = "plumb-fixture-policy"
				tags := map[string]string{"env": "test"}
				o, err := iam.NewFromConfig(cfg).CreatePolicy(ctx, &iam.CreatePolicyInput{
					PolicyName: aws.String(name), PolicyDocument: aws.String(iamTestPolicyDoc), Tags: iamTestTags(tags),
				})
				storageIAMErr(t, "create policy", err)
				arn := aws.ToString(o.Policy.Arn)
				return map[string]any{
					"id": arn, "arn": arn, "name": name, "name_prefix": "", "path": "/", "description": "",
					"policy": iamTestPolicyDoc, "policy_id": aws.ToString(o.Policy.PolicyId), "attachment_count": float64(0),
					"tags": storageIAMAnyMap(tags), "tags_all": storageIAMAnyMap(tags),
				}, nil
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				_, err := iam.NewFromConfig(cfg).DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(str(attrs, "arn"))})
				storageIAMErr(t, "delete policy", err)
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := iam.NewFromConfig(cfg).TagPolicy(ctx, &iam.TagPolicyInput{PolicyArn: aws.String(str(attrs, "arn")), Tags: iamTestTags(map[string]string{"env": "prod"})})
				storageIAMErr(t, "tag policy", err)
				return "tags.env"
			},
		},
		{
			typ: "aws_iam_instance_profile",
			create: func(t *testing.T, ctx context.Context, cfg aws.Config) (map[string]any, []extraResource) {
				const name = "plumb-fixture-profile"
				role := iamTestCreateRole(t, ctx, cfg, "plumb-fixture-profile-role", "/", map[string]string{"env": "test"})
				tags := map[string]string{"env": "test"}
				c := iam.NewFromConfig(cfg)
				o, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name), Tags: iamTestTags(tags)})
				storageIAMErr(t, "create instance profile", err)
				_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(str(role, "name"))})
				storageIAMErr(t, "add role to instance profile", err)
				return map[string]any{
					"id": name, "name": name, "name_prefix": "", "arn": aws.ToString(o.InstanceProfile.Arn), "path": "/",
					"role": str(role, "name"), "unique_id": aws.ToString(o.InstanceProfile.InstanceProfileId),
					"tags": storageIAMAnyMap(tags), "tags_all": storageIAMAnyMap(tags),
				}, []extraResource{{typ: "aws_iam_role", attrs: role}}
			},
			remove: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) {
				c := iam.NewFromConfig(cfg)
				_, err := c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String(str(attrs, "name")), RoleName: aws.String(str(attrs, "role"))})
				storageIAMErr(t, "remove role from instance profile", err)
				_, err = c.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(str(attrs, "name"))})
				storageIAMErr(t, "delete instance profile", err)
			},
			change: func(t *testing.T, ctx context.Context, cfg aws.Config, attrs map[string]any) string {
				_, err := iam.NewFromConfig(cfg).TagInstanceProfile(ctx, &iam.TagInstanceProfileInput{InstanceProfileName: aws.String(str(attrs, "name")), Tags: iamTestTags(map[string]string{"env": "prod"})})
				storageIAMErr(t, "tag instance profile", err)
				return "tags.env"
			},
		},
	}
}

// iamTestCreateRole creates a role and returns the state provider 5.100
// writes for it.
func iamTestCreateRole(t *testing.T, ctx context.Context, cfg aws.Config, name, path string, tags map[string]string) map[string]any {
	t.Helper()
	o, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String(name), Path: aws.String(path), AssumeRolePolicyDocument: aws.String(iamTestTrust), Tags: iamTestTags(tags),
	})
	storageIAMErr(t, "create role "+name, err)
	return map[string]any{
		"id": name, "name": name, "name_prefix": "", "arn": aws.ToString(o.Role.Arn), "path": path,
		"assume_role_policy": iamTestTrust, "description": "", "force_detach_policies": false,
		"managed_policy_arns": []any{}, "max_session_duration": float64(3600), "permissions_boundary": "",
		"unique_id": aws.ToString(o.Role.RoleId), "inline_policy": []any{},
		"tags": storageIAMAnyMap(tags), "tags_all": storageIAMAnyMap(tags),
	}
}

func iamTestTags(tags map[string]string) []iamtypes.Tag {
	var out []iamtypes.Tag
	for k, v := range tags {
		out = append(out, iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func TestIAMFixtures(t *testing.T) {
	storageIAMFixtureRoundTrip(t, iamFixtures())
}

var iamTestTypes = []string{"aws_iam_role", "aws_iam_user", "aws_iam_group", "aws_iam_policy", "aws_iam_instance_profile"}

func TestIAMList(t *testing.T) {
	m := testenv.StartMoto(t)
	ctx := context.Background()
	cfg := m.Config(t, "us-east-1")
	c := iam.NewFromConfig(cfg)

	iamTestCreateRole(t, ctx, cfg, "app", "/", map[string]string{"env": "dev"})
	iamTestCreateRole(t, ctx, cfg, "AWSReservedSSO_Admin_0123456789abcdef", "/aws-reserved/sso.amazonaws.com/", nil)
	_, err := c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("autoscaling.amazonaws.com")})
	storageIAMErr(t, "create service-linked role", err)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Path: aws.String("/people/"), Tags: iamTestTags(map[string]string{"team": "a"})})
	storageIAMErr(t, "create user", err)
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("admins")})
	storageIAMErr(t, "create group", err)
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("read"), Path: aws.String("/team/"), PolicyDocument: aws.String(iamTestPolicyDoc), Tags: iamTestTags(map[string]string{"env": "dev"})})
	storageIAMErr(t, "create policy", err)
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("untagged"), PolicyDocument: aws.String(iamTestPolicyDoc)})
	storageIAMErr(t, "create policy", err)
	_, err = c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("with-role"), Tags: iamTestTags(map[string]string{"env": "dev"})})
	storageIAMErr(t, "create instance profile", err)
	_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("with-role"), RoleName: aws.String("app")})
	storageIAMErr(t, "add role", err)
	_, err = c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("empty")})
	storageIAMErr(t, "create instance profile", err)

	res, calls := storageIAMScan(t, ctx, []string{"us-east-1", "eu-west-1"}, iamTestTypes)
	type row struct {
		typ, id string
		tags    map[string]string
		attrs   map[string]any
		dflt    bool
	}
	var got []row
	for _, r := range res.Resources {
		if r.Region != "" || r.Account != "123456789012" {
			t.Errorf("%s %s: region %q account %q, want global in 123456789012", r.Type, r.ID, r.Region, r.Account)
		}
		attrs := map[string]any{}
		for k, v := range r.Attributes {
			if k != "assume_role_policy" && k != "policy" {
				attrs[k] = v
			}
		}
		got = append(got, row{r.Type, r.ID, r.Tags, attrs, r.Default != ""})
	}
	want := []row{
		{"aws_iam_group", "admins", map[string]string{}, map[string]any{"path": "/"}, false},
		{"aws_iam_instance_profile", "empty", map[string]string{}, map[string]any{"path": "/", "role": ""}, false},
		{"aws_iam_instance_profile", "with-role", map[string]string{"env": "dev"}, map[string]any{"path": "/", "role": "app"}, false},
		{"aws_iam_policy", "arn:aws:iam::123456789012:policy/team/read", map[string]string{"env": "dev"}, map[string]any{"path": "/team/"}, false},
		{"aws_iam_policy", "arn:aws:iam::123456789012:policy/untagged", map[string]string{}, map[string]any{"path": "/"}, false},
		{"aws_iam_role", "AWSReservedSSO_Admin_0123456789abcdef", map[string]string{}, map[string]any{"path": "/aws-reserved/sso.amazonaws.com/"}, true},
		{"aws_iam_role", "AWSServiceRoleForAutoScaling", map[string]string{}, map[string]any{"path": "/aws-service-role/autoscaling.amazonaws.com/"}, true},
		{"aws_iam_role", "app", map[string]string{"env": "dev"}, map[string]any{"path": "/"}, false},
		{"aws_iam_user", "alice", map[string]string{"team": "a"}, map[string]any{"path": "/people/"}, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listed:\n%+v\nwant:\n%+v", got, want)
	}
	for _, typ := range iamTestTypes {
		if !res.Complete(typ, "") {
			t.Errorf("%s not complete globally", typ)
		}
	}
	// Global types are listed once whatever the number of regions: STS,
	// four GetAccountAuthorizationDetails, ListInstanceProfiles, and one
	// tag read per policy (2) and per instance profile (2).
	if calls != 1+4+1+2+2 {
		t.Errorf("%d API calls, want 10", calls)
	}

	r, _ := storageIAMFind(res, "aws_iam_policy", aws.ToString(pol.Policy.Arn))
	if r.Attributes["policy"] != `{"Statement":[{"Action":["s3:GetObject","s3:ListBucket"],"Effect":"Allow","Resource":["*"]}],"Version":"2012-10-17"}` {
		t.Errorf("policy document = %v", r.Attributes["policy"])
	}
	r, _ = storageIAMFind(res, "aws_iam_role", "app")
	if r.Attributes["assume_role_policy"] != iamCanonicalPolicy(iamTestTrust, "aws") {
		t.Errorf("trust policy = %v", r.Attributes["assume_role_policy"])
	}

	t.Run("trust policy drift", func(t *testing.T) {
		other := strings.Replace(iamTestTrust, "ec2.amazonaws.com", "lambda.amazonaws.com", 1)
		_, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(other)})
		storageIAMErr(t, "update trust policy", err)
		res, _ := storageIAMScan(t, ctx, []string{"us-east-1"}, []string{"aws_iam_role"})
		live, _ := storageIAMFind(res, "aws_iam_role", "app")
		desired, _ := NewMapper().FromState("aws_iam_role", map[string]any{
			"id": "app", "name": "app", "arn": "arn:aws:iam::123456789012:role/app", "path": "/",
			"assume_role_policy": iamTestTrust, "tags": map[string]any{"env": "dev"},
		})
		if diff := storageIAMDiff("aws_iam_role", desired, live); !reflect.DeepEqual(diff, []string{"assume_role_policy"}) {
			t.Errorf("differences = %v, want [assume_role_policy]", diff)
		}
	})

	t.Run("path drift", func(t *testing.T) {
		res, _ := storageIAMScan(t, ctx, []string{"us-east-1"}, []string{"aws_iam_group"})
		live, _ := storageIAMFind(res, "aws_iam_group", "admins")
		desired, _ := NewMapper().FromState("aws_iam_group", map[string]any{
			"id": "admins", "name": "admins", "arn": "arn:aws:iam::123456789012:group/ops/admins", "path": "/ops/",
		})
		if diff := storageIAMDiff("aws_iam_group", desired, live); !reflect.DeepEqual(diff, []string{"path"}) {
			t.Errorf("differences = %v, want [path]", diff)
		}
	})

	t.Run("tag read failure leaves tags unknown", func(t *testing.T) {
		res, _ := storageIAMScan(t, ctx, []string{"us-east-1"}, []string{"aws_iam_policy", "aws_iam_instance_profile", "aws_iam_role"}, storageIAMDenyOperations("ListPolicyTags", "GetInstanceProfile"))
		n := 0
		for _, r := range res.Resources {
			switch r.Type {
			case "aws_iam_policy", "aws_iam_instance_profile":
				n++
				if r.Tags != nil {
					t.Errorf("%s %s: tags %v, want nil", r.Type, r.ID, r.Tags)
				}
			case "aws_iam_role":
				if r.Tags == nil {
					t.Errorf("role %s: tags unknown, want read from the listing", r.ID)
				}
			}
		}
		if n != 4 {
			t.Errorf("listed %d policies and profiles, want 4", n)
		}
	})
}

func TestIAMFreshAccountHasNothingUnmanaged(t *testing.T) {
	testenv.StartMoto(t)
	types := append([]string{"aws_s3_bucket", "aws_dynamodb_table", "aws_sqs_queue", "aws_sns_topic"}, iamTestTypes...)
	res, _ := storageIAMScan(t, context.Background(), []string{"us-east-1"}, types)
	for _, r := range res.Resources {
		if r.Default == "" {
			t.Errorf("fresh account lists %s %s", r.Type, r.ID)
		}
	}
}

func TestIAMFromState(t *testing.T) {
	mapper := NewMapper()
	// Attribute maps as a terraform apply of provider 5.100 wrote them
	// (against moto, with default_tags managed_by=terraform).
	role := map[string]any{
		"arn":                "arn:aws:iam::123456789012:role/app/tf-role",
		"assume_role_policy": `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"AWS":"123456789012","Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}`,
		"id":                 "tf-role", "name": "tf-role", "path": "/app/", "max_session_duration": float64(3600),
		"tags": map[string]any{"env": "dev"}, "tags_all": map[string]any{"env": "dev", "managed_by": "terraform"},
	}
	policy := map[string]any{
		"arn": "arn:aws:iam::123456789012:policy/tf-policy", "id": "arn:aws:iam::123456789012:policy/tf-policy",
		"name": "tf-policy", "path": "/",
		"policy": `{"Statement":[{"Action":["s3:GetObject","s3:ListBucket"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}`,
		"tags":   map[string]any{"env": "dev"}, "tags_all": map[string]any{"env": "dev", "managed_by": "terraform"},
	}
	tagsAll := map[string]string{"env": "dev", "managed_by": "terraform"}
	for _, tc := range []struct {
		typ   string
		attrs map[string]any
		want  model.Resource
	}{
		{"aws_iam_role", role, model.Resource{
			Provider: "aws", Type: "aws_iam_role", ID: "tf-role", Account: "123456789012", Name: "tf-role",
			ARN: "arn:aws:iam::123456789012:role/app/tf-role", Tags: tagsAll,
			Attributes: map[string]any{"path": "/app/", "assume_role_policy": `{"Statement":[{"Action":["sts:AssumeRole"],"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"],"Service":["ec2.amazonaws.com"]}}],"Version":"2012-10-17"}`},
		}},
		{"aws_iam_policy", policy, model.Resource{
			Provider: "aws", Type: "aws_iam_policy", ID: "arn:aws:iam::123456789012:policy/tf-policy", Account: "123456789012",
			Name: "tf-policy", ARN: "arn:aws:iam::123456789012:policy/tf-policy", Tags: tagsAll,
			Attributes: map[string]any{"path": "/", "policy": `{"Statement":[{"Action":["s3:GetObject","s3:ListBucket"],"Effect":"Allow","Resource":["*"]}],"Version":"2012-10-17"}`},
		}},
		{"aws_iam_user", map[string]any{
			"arn": "arn:aws:iam::123456789012:user/tf-user", "id": "tf-user", "name": "tf-user", "path": "/",
			"tags": map[string]any{"env": "dev"}, "tags_all": map[string]any{"env": "dev", "managed_by": "terraform"},
		}, model.Resource{
			Provider: "aws", Type: "aws_iam_user", ID: "tf-user", Account: "123456789012", Name: "tf-user",
			ARN: "arn:aws:iam::123456789012:user/tf-user", Tags: tagsAll, Attributes: map[string]any{"path": "/"},
		}},
		{"aws_iam_group", map[string]any{
			"arn": "arn:aws:iam::123456789012:group/tf-group", "id": "tf-group", "name": "tf-group", "path": "/",
		}, model.Resource{
			Provider: "aws", Type: "aws_iam_group", ID: "tf-group", Account: "123456789012", Name: "tf-group",
			ARN: "arn:aws:iam::123456789012:group/tf-group", Tags: map[string]string{}, Attributes: map[string]any{"path": "/"},
		}},
		{"aws_iam_instance_profile", map[string]any{
			"arn": "arn:aws:iam::123456789012:instance-profile/tf-ip", "id": "tf-ip", "name": "tf-ip", "path": "/", "role": "tf-role",
			"tags": map[string]any{"env": "dev"}, "tags_all": map[string]any{"env": "dev", "managed_by": "terraform"},
		}, model.Resource{
			Provider: "aws", Type: "aws_iam_instance_profile", ID: "tf-ip", Account: "123456789012", Name: "tf-ip",
			ARN: "arn:aws:iam::123456789012:instance-profile/tf-ip", Tags: tagsAll, Attributes: map[string]any{"path": "/", "role": "tf-role"},
		}},
		{"aws_iam_instance_profile", map[string]any{"id": "bare", "role": nil}, model.Resource{
			Provider: "aws", Type: "aws_iam_instance_profile", ID: "bare", Name: "bare", Attributes: map[string]any{"path": "/", "role": ""},
		}},
	} {
		t.Run(tc.typ+"/"+tc.want.ID, func(t *testing.T) {
			got, ok := mapper.FromState(tc.typ, tc.attrs)
			if !ok {
				t.Fatal("not mapped")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	for _, typ := range iamTestTypes {
		if _, ok := mapper.FromState(typ, map[string]any{"arn": ""}); ok {
			t.Errorf("%s without id mapped", typ)
		}
	}
}

func TestIAMCanonicalPolicy(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"whitespace and key order",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
			"{\n  \"Statement\": [ {\"Resource\": \"*\", \"Action\": \"s3:*\", \"Effect\": \"Allow\"} ],\n  \"Version\": \"2012-10-17\"\n}", true},
		{"single value and list",
			`{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`,
			`{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}`, true},
		{"action order",
			`{"Statement":[{"Effect":"Allow","Action":["b","a"],"Resource":"*"}]}`,
			`{"Statement":[{"Effect":"Allow","Action":["a","b"],"Resource":"*"}]}`, true},
		{"statement object and list",
			`{"Statement":{"Effect":"Allow","Action":"a","Resource":"*"}}`,
			`{"Statement":[{"Effect":"Allow","Action":"a","Resource":"*"}]}`, true},
		{"statement order",
			`{"Statement":[{"Effect":"Allow","Action":"a","Resource":"*"},{"Effect":"Deny","Action":"b","Resource":"*"}]}`,
			`{"Statement":[{"Effect":"Deny","Action":"b","Resource":"*"},{"Effect":"Allow","Action":"a","Resource":"*"}]}`, true},
		{"account id principal is its root ARN",
			`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}`,
			`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":"sts:AssumeRole"}]}`, true},
		{"star principal",
			`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a"}]}`,
			`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"a"}]}`, true},
		{"empty sid",
			`{"Statement":[{"Sid":"","Effect":"Allow","Action":"a","Resource":"*"}]}`,
			`{"Statement":[{"Effect":"Allow","Action":"a","Resource":"*"}]}`, true},
		{"condition scalar and list, bool as string",
			`{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`,
			`{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":["false"]}}}]}`, true},
		{"different action", `{"Statement":[{"Effect":"Allow","Action":"a","Resource":"*"}]}`,
			`{"Statement":[{"Effect":"Allow","Action":"b","Resource":"*"}]}`, false},
		{"different effect", `{"Statement":[{"Effect":"Allow","Action":"a","Resource":"*"}]}`,
			`{"Statement":[{"Effect":"Deny","Action":"a","Resource":"*"}]}`, false},
		{"added principal", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"a"}]}`,
			`{"Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"a"}]}`, false},
		{"sid matters", `{"Statement":[{"Sid":"A","Effect":"Allow","Action":"a","Resource":"*"}]}`,
			`{"Statement":[{"Sid":"B","Effect":"Allow","Action":"a","Resource":"*"}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := iamCanonicalPolicy(tc.a, "aws"), iamCanonicalPolicy(tc.b, "aws")
			if (a == b) != tc.same {
				t.Errorf("same = %v, want %v\n%s\n%s", a == b, tc.same, a, b)
			}
		})
	}
	t.Run("URL-encoded document from GetAccountAuthorizationDetails", func(t *testing.T) {
		enc := "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Aa%20b%2B%2A%22%7D%5D%7D"
		got := iamCanonicalPolicy(iamDecodeDocument(enc), "aws")
		want := `{"Statement":[{"Action":["s3:GetObject"],"Effect":"Allow","Resource":["arn:aws:s3:::a b+*"]}],"Version":"2012-10-17"}`
		if got != want {
			t.Errorf("got %s\nwant %s", got, want)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		if got := iamCanonicalPolicy("  not json ", "aws"); got != "not json" {
			t.Errorf("got %q", got)
		}
	})
}

// storageIAMDenyOperations makes calls of the named operations fail with
// AccessDenied.
func storageIAMDenyOperations(ops ...string) func(*config.LoadOptions) error {
	sort.Strings(ops)
	return storageIAMDenyWhen(func(ctx context.Context) bool {
		op := awsmw.GetOperationName(ctx)
		i := sort.SearchStrings(ops, op)
		return i < len(ops) && ops[i] == op
	})
}
