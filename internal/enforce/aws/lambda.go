package aws

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	plumbconfig "plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/model"
)

func lambdaDeleters() map[string]deleter {
	return map[string]deleter{
		"aws_lambda_function": {rank: rankCompute, read: readFunction, delete: deleteFunction,
			notFound: []string{"ResourceNotFoundException"}},
	}
}

// functionBefore is a function's configuration (not its code: the
// package location AWS returns expires).
type functionBefore struct {
	FunctionName string            `json:"function_name"`
	ARN          string            `json:"arn"`
	Runtime      string            `json:"runtime,omitempty"`
	Handler      string            `json:"handler,omitempty"`
	Role         string            `json:"role"`
	CodeSha256   string            `json:"code_sha256"`
	Environment  []string          `json:"environment_keys"`
	Tags         map[string]string `json:"tags"`
}

func readFunction(ctx context.Context, c *clients, r model.Resource) (any, bool, error) {
	out, err := lambda.NewFromConfig(c.cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(r.ID)})
	if err != nil {
		return nil, false, err
	}
	cfg := out.Configuration
	b := functionBefore{FunctionName: r.ID, Environment: []string{}, Tags: out.Tags}
	if cfg != nil {
		b.ARN, b.Runtime, b.Handler = aws.ToString(cfg.FunctionArn), string(cfg.Runtime), aws.ToString(cfg.Handler)
		b.Role, b.CodeSha256 = aws.ToString(cfg.Role), aws.ToString(cfg.CodeSha256)
		if cfg.Environment != nil {
			// Names only: values can be secrets.
			for k := range cfg.Environment.Variables {
				b.Environment = append(b.Environment, k)
			}
		}
	}
	if b.Tags == nil {
		b.Tags = map[string]string{}
	}
	return b, false, nil
}

func deleteFunction(ctx context.Context, c *clients, a *enforce.Action, _ plumbconfig.Enforcement, _ json.RawMessage) (string, error) {
	if _, err := lambda.NewFromConfig(c.cfg).DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(a.Resource.ID)}); err != nil {
		return "", err
	}
	return "deleted", nil
}
