package testenv

import (
	"bytes"
	"context"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// FindProviderMirror returns the root of a Terraform filesystem mirror
// holding registry.terraform.io/hashicorp/aws: PLUMB_TF_MIRROR if set, else
// where the provider is preinstalled on plumb's development machines, else
// the mirror `make setup` makes (~/.cache/plumb/tf-plugins) when it can
// reach the registry. .ci/setup.sh checks the same places.
func FindProviderMirror() (string, error) {
	candidates := []string{os.Getenv("PLUMB_TF_MIRROR"), "/opt/tf-plugins", "/usr/share/terraform/plugins", "/usr/local/share/terraform/plugins"}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "plumb", "tf-plugins"))
	}
	for _, root := range candidates {
		if root == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(root, "registry.terraform.io", "hashicorp", "aws")); err == nil && st.IsDir() {
			return root, nil
		}
	}
	// Slow path: look under /opt and /usr for the provider binary.
	for _, base := range []string{"/opt", "/usr/local", "/usr/share", os.Getenv("HOME")} {
		if base == "" {
			continue
		}
		var found string
		_ = filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
			if err != nil || found != "" {
				return filepath.SkipDir
			}
			if d.IsDir() && strings.HasSuffix(path, filepath.Join("registry.terraform.io", "hashicorp", "aws")) {
				found = strings.TrimSuffix(path, string(filepath.Separator)+filepath.Join("registry.terraform.io", "hashicorp", "aws"))
				return filepath.SkipAll
			}
			return nil
		})
		if found != "" {
			return found, nil
		}
	}
	return "", fmt.Errorf("the AWS provider for Terraform (registry.terraform.io/hashicorp/aws 5.100.0) is in no filesystem mirror: looked in PLUMB_TF_MIRROR (%s), %s and below /opt, /usr/local, /usr/share and HOME. Run make setup, which makes one when registry.terraform.io answers, or set PLUMB_TF_MIRROR to a directory made with terraform providers mirror",
		orUnset(os.Getenv("PLUMB_TF_MIRROR")), strings.Join(candidates[1:], ", "))
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// Terraform runs the real terraform binary with a CLI configuration that
// installs providers from the local mirror only.
type Terraform struct {
	Bin       string
	CLIConfig string
	// Env is added to every run (AWS endpoint and credentials).
	Env map[string]string
}

// NewTerraform prepares terraform for a test: it fails under CI=true and
// skips elsewhere when terraform or the provider mirror is missing.
func NewTerraform(t testing.TB) *Terraform {
	t.Helper()
	bin := Require(t, "terraform")
	mirror, err := FindProviderMirror()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	tf, err := NewTerraformIn(t.TempDir(), bin, mirror)
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

// NewTerraformIn writes a CLI configuration into dir and returns a runner.
// Extra dev_overrides (provider source address to directory) let tests use
// providers built with go install.
func NewTerraformIn(dir, bin, mirror string) (*Terraform, error) {
	cfg := filepath.Join(dir, "terraform.rc")
	body := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/*/*"]
  }
}
plugin_cache_dir = ""
`, mirror)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return nil, fmt.Errorf("write terraform CLI config: %w", err)
	}
	return &Terraform{Bin: bin, CLIConfig: cfg, Env: map[string]string{}}, nil
}

// Run runs terraform in dir and returns its combined output. The error
// carries the output, which is where Terraform explains itself.
func (tf *Terraform) Run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tf.Bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+tf.CLIConfig,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
	)
	for k, v := range tf.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("terraform %s in %s: %w\n%s", strings.Join(args, " "), dir, err, out.String())
	}
	return out.Bytes(), nil
}

// MotoProvider is an AWS provider block pointing every service plumb
// lists at a moto endpoint, with the checks moto cannot answer turned off.
func MotoProvider(endpoint string) string {
	services := []string{"ec2", "s3", "iam", "sts", "sqs", "sns", "dynamodb", "rds", "lambda", "kms", "ecr", "cloudwatchlogs", "route53", "resourcegroupstaggingapi"}
	var b strings.Builder
	b.WriteString("provider \"aws\" {\n")
	b.WriteString("  region                      = \"us-east-1\"\n")
	b.WriteString("  access_key                  = \"testing\"\n")
	b.WriteString("  secret_key                  = \"testing\"\n")
	b.WriteString("  skip_credentials_validation = true\n")
	b.WriteString("  skip_metadata_api_check     = true\n")
	b.WriteString("  skip_region_validation      = true\n")
	b.WriteString("  s3_use_path_style           = true\n")
	b.WriteString("  endpoints {\n")
	for _, s := range services {
		fmt.Fprintf(&b, "    %s = %q\n", s, endpoint)
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// ProvidersDir is where .ci/install-providers.sh builds the small providers
// (hashicorp/local, hashicorp/random): PLUMB_TF_PROVIDERS_DIR, else the
// first GOPATH entry's bin.
func ProvidersDir() string {
	if dir := os.Getenv("PLUMB_TF_PROVIDERS_DIR"); dir != "" {
		return dir
	}
	gopath := filepath.SplitList(build.Default.GOPATH)
	if len(gopath) == 0 {
		return ""
	}
	return filepath.Join(gopath[0], "bin")
}

// NewSmallProvidersTerraform returns a terraform runner whose CLI
// configuration wires the locally built local and random providers in with
// dev_overrides: Terraform then plans and applies without `terraform
// init`, so nothing is written into the configuration directory but the
// state. It fails under CI=true and skips elsewhere when terraform or a
// provider binary is missing.
func NewSmallProvidersTerraform(t testing.TB) *Terraform {
	t.Helper()
	bin := Require(t, "terraform")
	dir := ProvidersDir()
	for _, p := range []string{"terraform-provider-local", "terraform-provider-random"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			msg := fmt.Sprintf("%s not found in %s (run .ci/install-providers.sh or set PLUMB_TF_PROVIDERS_DIR): %v", p, dir, err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	cfg := filepath.Join(t.TempDir(), "terraform.rc")
	body := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"hashicorp/local\"  = %q\n    \"hashicorp/random\" = %q\n  }\n  direct {}\n}\n", dir, dir)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Terraform{Bin: bin, CLIConfig: cfg, Env: map[string]string{}}
}
