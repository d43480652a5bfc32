package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func rdsDeleters() map[string]deleter {
	return map[string]deleter{
		"aws_db_instance": {rank: rankCompute, read: readDBInstance, check: checkDBInstance, delete: deleteDBInstance,
			notFound: []string{"DBInstanceNotFound", "DBInstanceNotFoundFault"}},
	}
}

// dbInstanceBefore is a database instance's settings.
type dbInstanceBefore struct {
	Identifier         string   `json:"identifier"`
	Engine             string   `json:"engine"`
	EngineVersion      string   `json:"engine_version"`
	Class              string   `json:"class"`
	Status             string   `json:"status"`
	AllocatedStorage   int32    `json:"allocated_storage"`
	MultiAZ            bool     `json:"multi_az"`
	DeletionProtection bool     `json:"deletion_protection"`
	SecurityGroups     []string `json:"vpc_security_groups"`
	SubnetGroup        string   `json:"subnet_group,omitempty"`
}

func describeDBInstance(ctx context.Context, c *clients, id string) (*rdstypes.DBInstance, error) {
	out, err := rds.NewFromConfig(c.cfg).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		return nil, err
	}
	if len(out.DBInstances) == 0 {
		return nil, nil
	}
	return &out.DBInstances[0], nil
}

func readDBInstance(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	db, err := describeDBInstance(ctx, c, r.ID)
	if err != nil {
		return nil, false, err
	}
	if db == nil || aws.ToString(db.DBInstanceStatus) == "deleting" {
		return nil, true, nil
	}
	b := dbInstanceBefore{Identifier: r.ID, Engine: aws.ToString(db.Engine), EngineVersion: aws.ToString(db.EngineVersion),
		Class: aws.ToString(db.DBInstanceClass), Status: aws.ToString(db.DBInstanceStatus), AllocatedStorage: aws.ToInt32(db.AllocatedStorage),
		MultiAZ: aws.ToBool(db.MultiAZ), DeletionProtection: aws.ToBool(db.DeletionProtection), SecurityGroups: []string{}}
	for _, g := range db.VpcSecurityGroups {
		b.SecurityGroups = append(b.SecurityGroups, aws.ToString(g.VpcSecurityGroupId))
	}
	if db.DBSubnetGroup != nil {
		b.SubnetGroup = aws.ToString(db.DBSubnetGroup.DBSubnetGroupName)
	}
	return b, false, nil
}

func checkDBInstance(ctx context.Context, c *clients, r model.Resource, _ plumbconfig.Enforcement, _ func(string, string) bool) (string, error) {
	db, err := describeDBInstance(ctx, c, r.ID)
	if err != nil || db == nil {
		return "", err
	}
	if aws.ToBool(db.DeletionProtection) {
		return "deletion protection is on", nil
	}
	return "", nil
}

// FinalSnapshotID is the final snapshot a database delete leaves:
// plumb-final-IDENTIFIER-ACTION, within RDS's naming rules.
func FinalSnapshotID(identifier, actionID string) string {
	id := "plumb-final-" + strings.ToLower(identifier) + "-" + actionID[:min(8, len(actionID))]
	for strings.Contains(id, "--") {
		id = strings.ReplaceAll(id, "--", "-")
	}
	if len(id) > 255 {
		id = id[:255]
	}
	return strings.TrimRight(id, "-")
}

// deleteDBInstance deletes with a final snapshot. If an earlier attempt
// already made the snapshot, it is not made again.
func deleteDBInstance(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	client := rds.NewFromConfig(c.cfg)
	snap := FinalSnapshotID(a.Resource.ID, a.ID)
	in := &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(a.Resource.ID), FinalDBSnapshotIdentifier: aws.String(snap),
		DeleteAutomatedBackups: aws.Bool(false)}
	existing, err := client.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(snap)})
	switch {
	case err == nil && len(existing.DBSnapshots) > 0:
		in.FinalDBSnapshotIdentifier, in.SkipFinalSnapshot = nil, aws.Bool(true)
	case err != nil && !isCode(err, []string{"DBSnapshotNotFound", "DBSnapshotNotFoundFault"}):
		return "", err
	}
	if _, err := client.DeleteDBInstance(ctx, in); err != nil {
		return "", err
	}
	return fmt.Sprintf("deleted after final snapshot %s", snap), nil
}
