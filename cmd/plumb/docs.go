package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"plumb/internal/clidoc"
)

// cliDocPath is the generated CLI reference, relative to the repository
// root; regenerateCLIDoc is the command that rewrites it.
const (
	cliDocPath        = "docs/cli.md"
	regenerateCLIDoc  = "make docs"
	cliDocDescription = "the command-line reference (" + cliDocPath + ")"
)

// newDocsCmd is hidden: it exists for `make docs`, which keeps
// docs/cli.md equal to the command tree.
func newDocsCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "docs",
		Short:  "Write plumb's generated documentation (used by make docs)",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	var out string
	gen := &cobra.Command{
		Use:   "gen",
		Short: "Write " + cliDocDescription + " from the command tree",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var buf bytes.Buffer
			if err := renderCLIDoc(&buf); err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := stdout.Write(buf.Bytes())
				return err
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			return nil
		},
	}
	gen.Flags().StringVar(&out, "out", "", "file to write (default: stdout)")
	cmd.AddCommand(gen)
	return cmd
}

// renderCLIDoc renders the reference from a fresh command tree, with
// cobra's completion command added as it is at run time.
func renderCLIDoc(w io.Writer) error {
	root := newRootCmd(io.Discard, io.Discard, enforceDeps{})
	root.InitDefaultCompletionCmd()
	return clidoc.Write(w, root, regenerateCLIDoc)
}

// envDefault makes a flag's default come from an environment variable
// when it is set, while help and the reference show the fixed default and
// name the variable: docs generated on two machines must not differ by
// their environment.
func envDefault(fs *pflag.FlagSet, name, env, fixed string) {
	f := fs.Lookup(name)
	if v := envOr(env, ""); v != "" {
		_ = f.Value.Set(v)
	}
	f.DefValue = fixed
	f.Usage += " (env " + env + ")"
}
