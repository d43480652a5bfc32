package aws

import (
	"fmt"
	"strings"
)

// str reads a string attribute from Terraform state, "" when absent.
func str(attrs map[string]any, key string) string {
	switch v := attrs[key].(type) {
	case string:
		return v
	case float64:
		return fmt.Sprintf("%v", v)
	case bool:
		return fmt.Sprintf("%t", v)
	}
	return ""
}

// stateTags returns the tags a resource should carry according to state.
// tags_all includes the provider's default_tags, which AWS also shows, so
// it is preferred over tags. A resource whose state has neither attribute
// gets nil: its tags are unknown and are not compared.
func stateTags(attrs map[string]any) map[string]string {
	for _, key := range []string{"tags_all", "tags"} {
		raw, present := attrs[key]
		if !present {
			continue
		}
		out := map[string]string{}
		if m, ok := raw.(map[string]any); ok {
			for k, v := range m {
				if s, ok := v.(string); ok && !strings.HasPrefix(k, "aws:") {
					out[k] = s
				}
			}
		}
		return out
	}
	return nil
}

// regionFromAttrs finds the region of a state instance from the attributes
// that carry it: region (S3, and every resource from provider v6 on), the
// ARN, or an availability zone.
func regionFromAttrs(attrs map[string]any) string {
	if r := str(attrs, "region"); r != "" {
		return r
	}
	if arn := str(attrs, "arn"); arn != "" {
		if r := regionFromARN(arn); r != "" {
			return r
		}
	}
	if az := str(attrs, "availability_zone"); len(az) > 1 {
		return strings.TrimRight(az, "abcdefghijklmnopqrstuvwxyz")
	}
	return ""
}

// regionFromARN returns the region field of an ARN ("" for global ARNs).
func regionFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}
