package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// lambdaListers covers Lambda functions. ListFunctions returns the
// configuration but not the tags, which come from the region's tag index
// (one tagging call per hundred tagged resources) instead of one
// ListTags call per function.
func lambdaListers() []lister {
	return []lister{
		{
			Type: inventory.Type{
				Name:     "aws_lambda_function",
				Service:  "lambda",
				Compared: []string{"runtime", "memory_size", "timeout", "handler"},
			},
			list:      listLambdaFunctions,
			fromState: lambdaFunctionFromState,
		},
	}
}

// lambdaPageSize is the largest MaxItems ListFunctions accepts.
const lambdaPageSize = 50

// listLambdaFunctions pages through ListFunctions. Without FunctionVersion
// it returns only the unpublished ($LATEST) configuration of each function,
// which is what aws_lambda_function describes; Lambda@Edge replicas are
// left out because MasterRegion is not set.
func listLambdaFunctions(ctx context.Context, s *session, region string) ([]model.Resource, error) {
	client := lambda.NewFromConfig(s.config(region))
	p := lambda.NewListFunctionsPaginator(client, &lambda.ListFunctionsInput{MaxItems: aws.Int32(lambdaPageSize)})
	var out []model.Resource
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("lambda ListFunctions in %s: %w", region, err)
		}
		for _, fn := range page.Functions {
			name := aws.ToString(fn.FunctionName)
			if name == "" {
				continue
			}
			out = append(out, model.Resource{
				ID:   name,
				Name: name,
				ARN:  aws.ToString(fn.FunctionArn),
				Attributes: map[string]any{
					"runtime":     string(fn.Runtime),
					"memory_size": float64(aws.ToInt32(fn.MemorySize)),
					"timeout":     float64(aws.ToInt32(fn.Timeout)),
					"handler":     aws.ToString(fn.Handler),
				},
			})
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	// Only load the tag index when there is something to tag: an empty
	// region then costs a single ListFunctions call.
	idx := appTagIndex(ctx, s, region, tagsLambda)
	for i := range out {
		out[i].Tags = appIndexTags(idx, out[i].ARN)
	}
	return out, nil
}

// lambdaFunctionFromState maps aws_lambda_function, whose import id is the
// function name.
func lambdaFunctionFromState(attrs map[string]any) (model.Resource, bool) {
	name := str(attrs, "function_name")
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
		Tags:       stateTags(attrs),
		Attributes: map[string]any{},
	}
	appCopyString(r.Attributes, attrs, "runtime")
	appCopyNumber(r.Attributes, attrs, "memory_size")
	appCopyNumber(r.Attributes, attrs, "timeout")
	appCopyString(r.Attributes, attrs, "handler")
	return r, true
}
