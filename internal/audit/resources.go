package audit

import (
	"strings"

	"plumb/internal/azuretype"
	"plumb/internal/model"
)

// Created returns the resources a successful creation event brought into
// existence, under the Terraform type and import id plumb's inventory uses
// for them, so they can be looked up in the desired state and reported
// like a scan would. Events that failed, that plumb cannot map, or that an
// AWS service made on its own yield nothing: an unmapped event must never
// become a finding. Resources the cloud manages itself (service-linked
// roles, AWS-managed keys, /aws/ log groups, Azure-owned resource groups)
// are returned with Default set, and callers must not call them unmanaged.
//
// Azure: a */write that succeeded on a resource whose ARM type (derived
// from the id, and equal to the operation's type) has an azurerm type. An
// ARM write is also how updates arrive; an undeclared resource being
// updated is just as unmanaged, so no distinction is attempted.
func Created(ev model.Event) []model.Resource {
	if Failure(ev) != "" {
		return nil
	}
	if rec, ok := CloudTrail(ev); ok {
		if rec.byService() || !recordIsWrite(rec) {
			return nil
		}
		return awsCreated(ev, rec)
	}
	return azureCreated(ev)
}

func azureCreated(ev model.Event) []model.Resource {
	op := azureOperation(ev)
	if op == "" || !isAzure(ev, op) {
		return nil
	}
	if ev.Type != "" && strings.HasPrefix(ev.Type, "Microsoft.Resources.") && ev.Type != "Microsoft.Resources.ResourceWriteSuccess" {
		return nil
	}
	opType, ok := cutSuffixFold(op, "/write")
	if !ok {
		return nil
	}
	if strings.EqualFold(opType, "Microsoft.Resources/subscriptions/resourceGroups") {
		opType = "Microsoft.Resources/resourceGroups"
	}
	id := azureResourceID(ev)
	armType := azuretype.FromID(id)
	if armType == "" || !strings.EqualFold(armType, opType) {
		return nil
	}
	tf, ok := azuretype.Terraform(armType)
	if !ok {
		return nil
	}
	return []model.Resource{{
		Provider: "azure",
		Type:     tf,
		ID:       id,
		Region:   ev.Region,
		Account:  azuretype.SubscriptionOf(id),
		Name:     id[strings.LastIndexByte(id, '/')+1:],
		Default:  azureGroupDefault(id),
	}}
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) < len(suffix) || !strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
}

// azureResourceID is the ARM id the event acted on.
func azureResourceID(ev model.Event) string {
	if ev.ResourceID != "" {
		return ev.ResourceID
	}
	if d, ok := parseAzure(ev); ok && d.ResourceURI != "" {
		return d.ResourceURI
	}
	if strings.HasPrefix(strings.ToLower(ev.Subject), "/subscriptions/") {
		return ev.Subject
	}
	return ""
}

// azureGroupDefault says why Azure, not the user, created the resource
// group an id lives in. It mirrors the name rules of the Azure inventory
// (internal/inventory/azure/defaults.go), which are not exported; managed
// groups named only by their managedBy property cannot be told from an
// event and are not recognised here.
func azureGroupDefault(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) < 4 || !strings.EqualFold(parts[2], "resourceGroups") {
		return ""
	}
	lower := strings.ToLower(parts[3])
	switch {
	case lower == "networkwatcherrg":
		return "Network Watcher resource group created by Azure"
	case strings.HasPrefix(lower, "mc_"):
		return "AKS node resource group"
	case strings.HasPrefix(lower, "defaultresourcegroup-"):
		return "Azure Monitor default resource group"
	case strings.HasPrefix(lower, "cloud-shell-storage-"):
		return "Cloud Shell storage resource group"
	case strings.HasPrefix(lower, "azurebackuprg_"):
		return "Azure Backup restore point resource group"
	}
	return ""
}

// awsCall locates one AWS creation call.
type awsCall struct{ source, name string }

// awsMapper turns a creation record into resources (type, import id, ARN).
type awsMapper func(c awsCtx) []model.Resource

// awsCtx carries what the mappers need from a record.
type awsCtx struct {
	rec       Record
	region    string
	account   string
	partition string
}

func (c awsCtx) req(path ...string) string  { return digString(c.rec.RequestParams, path...) }
func (c awsCtx) resp(path ...string) string { return digString(c.rec.ResponseElems, path...) }

// res builds a resource when its import id is known.
func (c awsCtx) res(typ, id, arn string, global bool) []model.Resource {
	if id == "" {
		return nil
	}
	r := model.Resource{Provider: "aws", Type: typ, ID: id, ARN: arn, Account: c.account, Name: id}
	if !global {
		r.Region = c.region
	}
	return []model.Resource{r}
}

// arn builds an ARN in the record's partition, region and account.
func (c awsCtx) arn(service, resource string, regional bool) string {
	region := ""
	if regional {
		region = c.region
	}
	return "arn:" + c.partition + ":" + service + ":" + region + ":" + c.account + ":" + resource
}

// ec2 maps an EC2 creation whose id is at one response path.
func ec2(typ, kind string, path ...string) awsMapper {
	return func(c awsCtx) []model.Resource {
		id := c.resp(path...)
		if id == "" {
			return nil
		}
		return c.res(typ, id, c.arn("ec2", kind+"/"+id, true), false)
	}
}

// iamNamed maps IAM creations whose import id is the name.
func iamNamed(typ, nameParam string, respObj string) awsMapper {
	return func(c awsCtx) []model.Resource {
		name := c.req(nameParam)
		out := c.res(typ, name, c.resp(respObj, "arn"), true)
		if len(out) == 1 && typ == "aws_iam_role" {
			path := c.resp(respObj, "path")
			if path == "" {
				path = c.req("path")
			}
			out[0].Default = iamRoleDefault(name, path)
		}
		return out
	}
}

// iamRoleDefault mirrors the inventory's rule for roles AWS owns.
func iamRoleDefault(name, path string) string {
	switch {
	case strings.HasPrefix(path, "/aws-service-role/"):
		return "service-linked role, managed by its AWS service"
	case strings.HasPrefix(name, "AWSReservedSSO_") || strings.HasPrefix(path, "/aws-reserved/"):
		return "IAM Identity Center permission set role"
	}
	return ""
}

// ec2LaunchedBy tags mark instances a fleet or auto scaling group owns;
// the inventory treats them as defaults, and so does the event path.
var ec2LaunchedBy = [...]string{"aws:autoscaling:groupName", "aws:ec2:fleet-id", "aws:ec2spot:fleet-request-id"}

func runInstances(c awsCtx) []model.Resource {
	items, _ := dig(c.rec.ResponseElems, "instancesSet", "items").([]any)
	var out []model.Resource
	for _, it := range items {
		id := digString(it, "instanceId")
		if id == "" {
			continue
		}
		r := c.res("aws_instance", id, c.arn("ec2", "instance/"+id, true), false)[0]
		if tags, ok := dig(it, "tagSet", "items").([]any); ok {
			for _, t := range tags {
				key := digString(t, "key")
				for _, owner := range ec2LaunchedBy {
					if key == owner {
						r.Default = "instance launched by " + key + " " + digString(t, "value")
					}
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// awsMappers lists the creations plumb maps, keyed by CloudTrail
// eventSource and eventName. Import ids follow internal/inventory/aws.
var awsMappers = map[awsCall]awsMapper{
	{"ec2.amazonaws.com", "RunInstances"}:          runInstances,
	{"ec2.amazonaws.com", "CreateSecurityGroup"}:   ec2("aws_security_group", "security-group", "groupId"),
	{"ec2.amazonaws.com", "CreateVpc"}:             ec2("aws_vpc", "vpc", "vpc", "vpcId"),
	{"ec2.amazonaws.com", "CreateSubnet"}:          ec2("aws_subnet", "subnet", "subnet", "subnetId"),
	{"ec2.amazonaws.com", "CreateInternetGateway"}: ec2("aws_internet_gateway", "internet-gateway", "internetGateway", "internetGatewayId"),
	{"ec2.amazonaws.com", "CreateRouteTable"}:      ec2("aws_route_table", "route-table", "routeTable", "routeTableId"),
	{"ec2.amazonaws.com", "CreateNetworkAcl"}:      ec2("aws_network_acl", "network-acl", "networkAcl", "networkAclId"),
	{"ec2.amazonaws.com", "CreateVolume"}:          ec2("aws_ebs_volume", "volume", "volumeId"),
	{"ec2.amazonaws.com", "AllocateAddress"}:       ec2("aws_eip", "elastic-ip", "allocationId"),
	{"ec2.amazonaws.com", "CreateKeyPair"}:         keyPair,
	{"ec2.amazonaws.com", "ImportKeyPair"}:         keyPair,
	{"s3.amazonaws.com", "CreateBucket"}: func(c awsCtx) []model.Resource {
		name := c.req("bucketName")
		return c.res("aws_s3_bucket", name, "arn:"+c.partition+":s3:::"+name, false)
	},
	{"iam.amazonaws.com", "CreateRole"}:              iamNamed("aws_iam_role", "roleName", "role"),
	{"iam.amazonaws.com", "CreateServiceLinkedRole"}: serviceLinkedRole,
	{"iam.amazonaws.com", "CreateUser"}:              iamNamed("aws_iam_user", "userName", "user"),
	{"iam.amazonaws.com", "CreateGroup"}:             iamNamed("aws_iam_group", "groupName", "group"),
	{"iam.amazonaws.com", "CreateInstanceProfile"}:   iamNamed("aws_iam_instance_profile", "instanceProfileName", "instanceProfile"),
	{"iam.amazonaws.com", "CreatePolicy"}: func(c awsCtx) []model.Resource {
		arn := c.resp("policy", "arn")
		return c.res("aws_iam_policy", arn, arn, true)
	},
	{"rds.amazonaws.com", "CreateDBInstance"}: func(c awsCtx) []model.Resource {
		// RDS stores identifiers in lower case.
		id := strings.ToLower(c.req("dBInstanceIdentifier"))
		arn := c.resp("dBInstanceArn")
		if arn == "" && id != "" {
			arn = c.arn("rds", "db:"+id, true)
		}
		return c.res("aws_db_instance", id, arn, false)
	},
	{"sqs.amazonaws.com", "CreateQueue"}: func(c awsCtx) []model.Resource {
		name := c.req("queueName")
		if name == "" {
			return nil
		}
		url := c.resp("queueUrl")
		if url == "" {
			url = "https://sqs." + c.region + ".amazonaws.com/" + c.account + "/" + name
		}
		return c.res("aws_sqs_queue", url, c.arn("sqs", name, true), false)
	},
	{"sns.amazonaws.com", "CreateTopic"}: func(c awsCtx) []model.Resource {
		arn := c.resp("topicArn")
		return c.res("aws_sns_topic", arn, arn, false)
	},
	{"dynamodb.amazonaws.com", "CreateTable"}: func(c awsCtx) []model.Resource {
		name := c.req("tableName")
		arn := c.resp("tableDescription", "tableArn")
		if arn == "" && name != "" {
			arn = c.arn("dynamodb", "table/"+name, true)
		}
		return c.res("aws_dynamodb_table", name, arn, false)
	},
	{"kms.amazonaws.com", "CreateKey"}: func(c awsCtx) []model.Resource {
		out := c.res("aws_kms_key", c.resp("keyMetadata", "keyId"), c.resp("keyMetadata", "arn"), false)
		if len(out) == 1 && c.resp("keyMetadata", "keyManager") == "AWS" {
			out[0].Default = "AWS managed key"
		}
		return out
	},
	{"ecr.amazonaws.com", "CreateRepository"}: func(c awsCtx) []model.Resource {
		name := c.resp("repository", "repositoryName")
		if name == "" {
			name = c.req("repositoryName")
		}
		return c.res("aws_ecr_repository", name, c.resp("repository", "repositoryArn"), false)
	},
	{"logs.amazonaws.com", "CreateLogGroup"}: func(c awsCtx) []model.Resource {
		name := c.req("logGroupName")
		out := c.res("aws_cloudwatch_log_group", name, c.arn("logs", "log-group:"+name, true), false)
		if len(out) == 1 && strings.HasPrefix(name, "/aws/") {
			out[0].Default = "log group created by an AWS service"
		}
		return out
	},
	{"route53.amazonaws.com", "CreateHostedZone"}: func(c awsCtx) []model.Resource {
		id := strings.TrimPrefix(c.resp("hostedZone", "id"), "/hostedzone/")
		return c.res("aws_route53_zone", id, "arn:"+c.partition+":route53:::hostedzone/"+id, true)
	},
}

func keyPair(c awsCtx) []model.Resource {
	name := c.req("keyName")
	return c.res("aws_key_pair", name, c.arn("ec2", "key-pair/"+name, true), false)
}

func serviceLinkedRole(c awsCtx) []model.Resource {
	name := c.resp("role", "roleName")
	out := c.res("aws_iam_role", name, c.resp("role", "arn"), true)
	if len(out) == 1 {
		out[0].Default = "service-linked role, managed by its AWS service"
	}
	return out
}

// awsLambdaCreate matches CreateFunction and its versioned names
// (CreateFunction20150331).
func awsLambdaCreate(c awsCtx) []model.Resource {
	name := c.resp("functionName")
	if name == "" {
		name = c.req("functionName")
	}
	return c.res("aws_lambda_function", name, c.resp("functionArn"), false)
}

func awsCreated(ev model.Event, rec Record) []model.Resource {
	c := awsCtx{rec: rec, region: rec.AWSRegion, account: rec.RecipientAccountID}
	if c.region == "" {
		c.region = ev.Region
	}
	if c.account == "" {
		c.account = rec.UserIdentity.AccountID
	}
	if c.account == "" {
		c.account = ev.Account
	}
	c.partition = partitionOf(rec.UserIdentity.ARN, c.region)
	var fn awsMapper
	if rec.EventSource == "lambda.amazonaws.com" && strings.HasPrefix(rec.EventName, "CreateFunction") {
		fn = awsLambdaCreate
	} else {
		fn = awsMappers[awsCall{rec.EventSource, rec.EventName}]
	}
	if fn == nil {
		return nil
	}
	return fn(c)
}

// partitionOf takes the partition from the caller's ARN, else from the
// region name.
func partitionOf(arn, region string) string {
	if parts := strings.SplitN(arn, ":", 3); len(parts) == 3 && parts[0] == "arn" && parts[1] != "" {
		return parts[1]
	}
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// Target is the resource an event acted on, as precisely as the event
// allows: the first mapped created resource, else the ARM id (typed when
// azuretype knows it) or the ARN/resource id the event names. Audit and
// validation findings need a resource even for calls plumb cannot map.
func Target(ev model.Event) model.Resource {
	if rs := Created(ev); len(rs) > 0 {
		return rs[0]
	}
	provider := Provider(ev)
	r := model.Resource{Provider: provider, Region: ev.Region, Account: ev.Account}
	switch provider {
	case "azure":
		id := azureResourceID(ev)
		r.ID = id
		if tf, ok := azuretype.Terraform(azuretype.FromID(id)); ok {
			r.Type = tf
		}
		if r.Account == "" {
			r.Account = azuretype.SubscriptionOf(id)
		}
	default:
		r.ID = ev.ResourceID
		if rec, ok := CloudTrail(ev); ok {
			if r.Region == "" {
				r.Region = rec.AWSRegion
			}
			if r.Account == "" {
				r.Account = rec.RecipientAccountID
			}
		}
		if strings.HasPrefix(r.ID, "arn:") {
			r.ARN = r.ID
		}
	}
	return r
}
