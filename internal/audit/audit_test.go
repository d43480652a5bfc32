package audit

import (
	"encoding/json"
	"strings"
	"testing"

	"plumb/internal/model"
)

func TestIsPipeline(t *testing.T) {
	c, err := NewChecker([]string{
		"arn:aws:iam::123456789012:role/terraform",
		"arn:aws:iam::123456789012:role/github-actions-*",
		"arn:aws:iam::123456789012:role/ci/deployer",
		"arn:aws:iam::210987654321:user/ci-bot",
		"11111111-AAAA-2222-BBBB-333333333333",
		"arn:aws:iam::*:role/OrgDeploy",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, principal string
		want            bool
	}{
		{"exact role ARN", "arn:aws:iam::123456789012:role/terraform", true},
		{"object id as ARM evidence writes it (bare hex)", "11111111aaaa2222bbbb333333333333", true},
		{"object id dashed, lower case", "11111111-aaaa-2222-bbbb-333333333333", true},
		{"other object id, bare", "11111111aaaa2222bbbb333333333334", false},
		{"32 hex digits with misplaced dashes is not that GUID", "11111111aaaa-2222-bbbb-333333333333", false},
		{"exact user ARN", "arn:aws:iam::210987654321:user/ci-bot", true},
		{"other user", "arn:aws:iam::210987654321:user/alice", false},
		{"glob role", "arn:aws:iam::123456789012:role/github-actions-prod", true},
		{"glob wrong account", "arn:aws:iam::999999999999:role/github-actions-prod", false},
		{"glob prefix only", "arn:aws:iam::123456789012:role/github-action", false},
		{"session of exact role", "arn:aws:sts::123456789012:assumed-role/terraform/run-42", true},
		{"session of glob role", "arn:aws:sts::123456789012:assumed-role/github-actions-staging/GitHubActions", true},
		{"session of other role", "arn:aws:sts::123456789012:assumed-role/Admin/alice", false},
		{"session in other account", "arn:aws:sts::999999999999:assumed-role/terraform/x", false},
		{"session of role with path", "arn:aws:sts::123456789012:assumed-role/deployer/gh", true},
		{"role with path exact", "arn:aws:iam::123456789012:role/ci/deployer", true},
		{"role without the path is a different ARN", "arn:aws:iam::123456789012:role/deployer", false},
		{"account wildcard does not span fields", "arn:aws:iam::1:2:role/OrgDeploy", false},
		{"account wildcard", "arn:aws:sts::555555555555:assumed-role/OrgDeploy/s", true},
		{"azure oid lower case", "11111111-aaaa-2222-bbbb-333333333333", true},
		{"azure oid other", "11111111-aaaa-2222-bbbb-333333333334", false},
		{"empty", "", false},
		{"malformed session", "arn:aws:sts::123456789012:assumed-role/terraform", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.IsPipeline(tc.principal); got != tc.want {
				t.Errorf("IsPipeline(%q) = %v, want %v", tc.principal, got, tc.want)
			}
		})
	}
}

func TestNewCheckerErrors(t *testing.T) {
	tests := []struct {
		name       string
		identities []string
		wantInErr  string
	}{
		{"empty entry", []string{"arn:aws:iam::1:role/a", ""}, "identity 2"},
		{"match all", []string{"*"}, "every principal"},
		{"truncated ARN", []string{"arn:aws:iam::123"}, `"arn:aws:iam::123"`},
		{"white space", []string{" arn:aws:iam::1:role/a"}, "white space"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewChecker(tc.identities)
			if err == nil || !strings.Contains(err.Error(), tc.wantInErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantInErr)
			}
		})
	}
}

func TestIsPipelineEvent(t *testing.T) {
	tests := []struct {
		name       string
		identities []string
		file       string
		want       bool
	}{
		// CloudTrail keeps the role path in the session issuer, so a glob
		// over the path is verified in full.
		{"issuer with path matches path glob", []string{"arn:aws:iam::123456789012:role/ci/*"}, "eb_createrole.json", true},
		{"issuer path differs", []string{"arn:aws:iam::123456789012:role/other/*"}, "eb_createrole.json", false},
		{"admin session not a pipeline", []string{"arn:aws:iam::123456789012:role/ci/*"}, "eb_runinstances.json", false},
		{"azure oid from evidence", []string{"aaaaaaaa-1111-2222-3333-444444444444"}, "eg_storage_write.json", true},
		// appid of a user token is the client (Azure CLI), not the caller.
		{"azure cli appid does not make a user a pipeline", []string{"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}, "eg_storage_write.json", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChecker(tc.identities)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.IsPipelineEvent(loadEvent(t, tc.file)); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsPipelineEventAppOnlyToken(t *testing.T) {
	raw := `{"eventType":"Microsoft.Resources.ResourceWriteSuccess","data":{"operationName":"Microsoft.Network/virtualNetworks/write",
	"resourceUri":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
	"authorization":{"evidence":{"principalId":"cccccccc-0000-0000-0000-000000000000","principalType":"ServicePrincipal"}},
	"claims":{"appid":"dddddddd-0000-0000-0000-000000000000","idtyp":"app"}}}`
	ev := model.Event{Source: model.SourceEventGrid, Type: "Microsoft.Resources.ResourceWriteSuccess", Raw: json.RawMessage(raw)}
	c, err := NewChecker([]string{"DDDDDDDD-0000-0000-0000-000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsPipelineEvent(ev) {
		t.Error("app-only token with a listed app id should be a pipeline")
	}
}

func TestIsWrite(t *testing.T) {
	tests := []struct {
		name string
		ev   model.Event
		want bool
	}{
		{"azure write", model.Event{Source: model.SourceEventGrid, Operation: "Microsoft.Storage/storageAccounts/write"}, true},
		{"azure delete", model.Event{Source: model.SourceEventGrid, Operation: "Microsoft.Compute/virtualMachines/delete"}, true},
		{"azure listKeys is sensitive", model.Event{Source: model.SourceEventGrid, Operation: "Microsoft.Storage/storageAccounts/listKeys/action"}, true},
		{"azure start action", model.Event{Source: model.SourceEventGrid, Operation: "Microsoft.Compute/virtualMachines/start/action"}, true},
		{"azure validate action", model.Event{Source: model.SourceEventGrid, Operation: "Microsoft.Resources/deployments/validate/action"}, false},
		{"azure read", model.Event{Source: model.SourceEventGrid, Operation: "Microsoft.Storage/storageAccounts/read"}, false},
		{"azure by type only", model.Event{Source: model.SourceEventGrid, Type: "Microsoft.Resources.ResourceDeleteSuccess"}, true},
		{"azure action type without op", model.Event{Source: model.SourceEventGrid, Type: "Microsoft.Resources.ResourceActionSuccess"}, false},
		{"event grid file", loadEvent(t, "eg_storage_write.json"), true},
		{"event grid failure is an attempt", loadEvent(t, "eg_write_failure.json"), true},
		{"cloudtrail RunInstances", loadEvent(t, "eb_runinstances.json"), true},
		{"cloudtrail Describe readOnly", loadEvent(t, "eb_describe.json"), false},
		{"cloudtrail denied CreateBucket is an attempt", loadEvent(t, "eb_createbucket_denied.json"), true},
		{"cloudtrail CreateRole", loadEvent(t, "eb_createrole.json"), true},
		{"cloudtrail readOnly flag wins over name", ctEvent(`{"eventSource":"ec2.amazonaws.com","eventName":"CreateThing","readOnly":true}`), false},
		{"cloudtrail read prefix without flag", ctEvent(`{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets"}`), false},
		{"cloudtrail Get prefix", ctEvent(`{"eventSource":"iam.amazonaws.com","eventName":"GetRole","readOnly":false}`), false},
		{"cloudtrail word starting with List is not List", ctEvent(`{"eventSource":"x.amazonaws.com","eventName":"Listen"}`), true},
		{"cloudtrail AssumeRole", ctEvent(`{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","readOnly":false}`), false},
		{"cloudtrail data event", ctEvent(`{"eventSource":"s3.amazonaws.com","eventName":"PutObject","readOnly":false,"managementEvent":false,"eventCategory":"Data"}`), false},
		{"bare cloudtrail record", model.Event{Source: model.SourceEventBridge, Raw: json.RawMessage(`{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances"}`)}, true},
		{"normalized operation only", model.Event{Source: model.SourceEventBridge, Operation: "ec2:DescribeVpcs"}, false},
		{"normalized operation write", model.Event{Source: model.SourceEventBridge, Operation: "ec2:CreateVpc"}, true},
		{"alert", model.Event{Source: model.SourceAlert, Type: "alert"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsWrite(tc.ev); got != tc.want {
				t.Errorf("IsWrite = %v, want %v", got, tc.want)
			}
		})
	}
}

// ctEvent wraps a CloudTrail record in an EventBridge envelope.
func ctEvent(detail string) model.Event {
	raw := `{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.test","account":"123456789012","region":"us-east-1","detail":` + detail + `}`
	return model.Event{Source: model.SourceEventBridge, ID: "x", Raw: json.RawMessage(raw)}
}

func TestFinding(t *testing.T) {
	tests := []struct {
		file     string
		provider string
		typ      string
		id       string
		severity model.Severity
		message  string
	}{
		{"eb_runinstances.json", "aws", "aws_instance", "i-0aaaaaaaaaaaaaaa1", model.SeverityHigh,
			"Unexpected write by arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com: ec2:RunInstances on arn:aws:ec2:eu-west-1:123456789012:instance/i-0aaaaaaaaaaaaaaa1"},
		{"eb_createrole.json", "aws", "aws_iam_role", "app-runtime", model.SeverityCritical,
			"Unexpected write by arn:aws:sts::123456789012:assumed-role/github-actions-deploy/GitHubActions: iam:CreateRole on arn:aws:iam::123456789012:role/app-runtime"},
		{"eb_createbucket_denied.json", "aws", "", "", model.SeverityMedium,
			"Unexpected write by arn:aws:iam::123456789012:user/bob: s3:CreateBucket on unknown resource (failed: AccessDenied)"},
		{"eg_storage_write.json", "azure", "azurerm_storage_account", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stmanual01", model.SeverityHigh,
			"Unexpected write by AAAAAAAA-1111-2222-3333-444444444444: Microsoft.Storage/storageAccounts/write on /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stmanual01"},
		{"eg_write_failure.json", "azure", "azurerm_network_security_group", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/networkSecurityGroups/nsg-web", model.SeverityMedium,
			"Unexpected write by bbbbbbbb-1111-2222-3333-444444444444: Microsoft.Network/networkSecurityGroups/write on /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/networkSecurityGroups/nsg-web (failed: Failed)"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			ev := loadEvent(t, tc.file)
			f := Finding(ev, "prod")
			if f.Kind != model.KindUnexpectedWrite || !f.Security || f.Environment != "prod" {
				t.Errorf("kind/security/env = %s/%v/%s", f.Kind, f.Security, f.Environment)
			}
			if f.Resource.Provider != tc.provider || f.Resource.Type != tc.typ || f.Resource.ID != tc.id {
				t.Errorf("resource = %s/%s/%s, want %s/%s/%s", f.Resource.Provider, f.Resource.Type, f.Resource.ID, tc.provider, tc.typ, tc.id)
			}
			if f.Severity != tc.severity {
				t.Errorf("severity = %s, want %s", f.Severity, tc.severity)
			}
			if f.Message != tc.message {
				t.Errorf("message =\n %s\nwant\n %s", f.Message, tc.message)
			}
			// Stable: the same event (and a redelivery with another id)
			// gives the same fingerprint; another environment does not.
			again := ev
			again.ID = "redelivered"
			if g := Finding(again, "prod").Fingerprint; g != f.Fingerprint || len(g) != 32 {
				t.Errorf("fingerprint not stable: %s vs %s", g, f.Fingerprint)
			}
			if Finding(ev, "staging").Fingerprint == f.Fingerprint {
				t.Error("fingerprint ignores the environment")
			}
		})
	}
}

func TestFindingFingerprintSeparatesPrincipals(t *testing.T) {
	ev := loadEvent(t, "eb_runinstances.json")
	other := ev
	other.Principal = "arn:aws:iam::123456789012:user/mallory"
	if Finding(ev, "prod").Fingerprint == Finding(other, "prod").Fingerprint {
		t.Error("different principals share a fingerprint")
	}
}

func TestCreated(t *testing.T) {
	tests := []struct {
		name        string
		ev          model.Event
		wantType    string
		wantID      string
		wantDefault bool
	}{
		{"run instances", loadEvent(t, "eb_runinstances.json"), "aws_instance", "i-0aaaaaaaaaaaaaaa1", false},
		{"create role", loadEvent(t, "eb_createrole.json"), "aws_iam_role", "app-runtime", false},
		{"denied bucket", loadEvent(t, "eb_createbucket_denied.json"), "", "", false},
		{"describe", loadEvent(t, "eb_describe.json"), "", "", false},
		{"azure storage", loadEvent(t, "eg_storage_write.json"), "azurerm_storage_account", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stmanual01", false},
		{"azure failure", loadEvent(t, "eg_write_failure.json"), "", "", false},
		{"azure resource group", model.Event{Source: model.SourceEventGrid, Type: "Microsoft.Resources.ResourceWriteSuccess",
			Operation: "Microsoft.Resources/subscriptions/resourceGroups/write", ResourceID: "/subscriptions/s/resourceGroups/rg-x"}, "azurerm_resource_group", "/subscriptions/s/resourceGroups/rg-x", false},
		{"azure network watcher group", model.Event{Source: model.SourceEventGrid, Type: "Microsoft.Resources.ResourceWriteSuccess",
			Operation: "Microsoft.Resources/subscriptions/resourceGroups/write", ResourceID: "/subscriptions/s/resourceGroups/NetworkWatcherRG"}, "azurerm_resource_group", "/subscriptions/s/resourceGroups/NetworkWatcherRG", true},
		{"azure child op on parent id", model.Event{Source: model.SourceEventGrid, Type: "Microsoft.Resources.ResourceWriteSuccess",
			Operation: "Microsoft.Network/networkSecurityGroups/securityRules/write", ResourceID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n/securityRules/r"}, "", "", false},
		{"service-linked role", ctEvent(`{"eventSource":"iam.amazonaws.com","eventName":"CreateServiceLinkedRole","requestParameters":{"aWSServiceName":"autoscaling.amazonaws.com"},
			"responseElements":{"role":{"path":"/aws-service-role/autoscaling.amazonaws.com/","roleName":"AWSServiceRoleForAutoScaling","arn":"arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}}}`),
			"aws_iam_role", "AWSServiceRoleForAutoScaling", true},
		{"asg instance by service-linked role", ctEvent(`{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1",
			"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}}},
			"responseElements":{"instancesSet":{"items":[{"instanceId":"i-0asg"}]}}}`), "", "", false},
		{"sqs queue", ctEvent(`{"eventSource":"sqs.amazonaws.com","eventName":"CreateQueue","awsRegion":"us-east-1","recipientAccountId":"123456789012",
			"requestParameters":{"queueName":"jobs"},"responseElements":{"queueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/jobs"}}`), "aws_sqs_queue", "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", false},
		{"lambda versioned name", ctEvent(`{"eventSource":"lambda.amazonaws.com","eventName":"CreateFunction20150331","awsRegion":"us-east-1",
			"responseElements":{"functionName":"fn","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:fn"}}`), "aws_lambda_function", "fn", false},
		{"route53 zone", ctEvent(`{"eventSource":"route53.amazonaws.com","eventName":"CreateHostedZone","responseElements":{"hostedZone":{"id":"/hostedzone/Z0123"}}}`), "aws_route53_zone", "Z0123", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Created(tc.ev)
			if tc.wantType == "" {
				if len(got) != 0 {
					t.Fatalf("Created = %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("Created = %+v, want one", got)
			}
			if got[0].Type != tc.wantType || got[0].ID != tc.wantID || (got[0].Default != "") != tc.wantDefault {
				t.Errorf("Created = %s %s default=%q", got[0].Type, got[0].ID, got[0].Default)
			}
		})
	}
}
