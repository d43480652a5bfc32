// Package clidoc writes plumb's command-line reference (docs/cli.md) from
// the cobra command tree itself, so the reference lists exactly the
// commands and flags the binary accepts, with their defaults and help. A
// test in cmd/plumb compares the file with a fresh rendering; `make docs`
// rewrites it.
package clidoc

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Commands returns root and every command below it that a user can run
// or see in help, depth first with children by name: hidden commands and
// cobra's help command are left out.
func Commands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		out = append(out, c)
		children := append([]*cobra.Command(nil), c.Commands()...)
		sort.Slice(children, func(i, j int) bool { return children[i].Name() < children[j].Name() })
		for _, ch := range children {
			walk(ch)
		}
	}
	walk(root)
	return out
}

// Flags returns the flags a command accepts: its own (Local) and those
// it inherits from a parent's persistent flags (Inherited), each by
// name, without --help, which every command has.
func Flags(c *cobra.Command) (local, inherited []*pflag.Flag) {
	collect := func(fs *pflag.FlagSet) []*pflag.Flag {
		var out []*pflag.Flag
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && !f.Hidden {
				out = append(out, f)
			}
		})
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out
	}
	return collect(c.LocalFlags()), collect(c.InheritedFlags())
}

// Anchor is the GitHub heading anchor of a command's section
// ("plumb events list" -> "plumb-events-list").
func Anchor(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "-")
}

// Write renders the reference of root's tree as Markdown.
func Write(w io.Writer, root *cobra.Command, regenerate string) error {
	bw := bufio.NewWriter(w)
	cmds := Commands(root)
	fmt.Fprintf(bw, "# %s command-line reference\n\n", root.Name())
	fmt.Fprintf(bw, "Generated from the command tree by `%s`; do not edit by hand.\n", regenerate)
	fmt.Fprintf(bw, "Every command also takes `-h, --help`. Flags marked *repeatable* may be\ngiven several times.\n\n")
	for _, c := range cmds {
		indent := strings.Repeat("  ", strings.Count(c.CommandPath(), " "))
		fmt.Fprintf(bw, "%s- [`%s`](#%s): %s\n", indent, c.CommandPath(), Anchor(c), c.Short)
	}
	for _, c := range cmds {
		writeCommand(bw, c)
	}
	return bw.Flush()
}

func writeCommand(w io.Writer, c *cobra.Command) {
	fmt.Fprintf(w, "\n## %s\n\n", c.CommandPath())
	if c.Short != "" {
		fmt.Fprintf(w, "%s.\n\n", strings.TrimSuffix(c.Short, "."))
	}
	fmt.Fprintf(w, "```text\n%s\n```\n", usageLine(c))
	if len(c.Aliases) > 0 {
		fmt.Fprintf(w, "\nAliases: %s.\n", strings.Join(c.Aliases, ", "))
	}
	if long := strings.TrimSpace(c.Long); long != "" {
		fmt.Fprintf(w, "\n```text\n%s\n```\n", long)
	}
	if ex := strings.TrimRight(c.Example, " \n"); ex != "" {
		fmt.Fprintf(w, "\nExamples:\n\n```sh\n%s\n```\n", dedent(ex))
	}
	if subs := visibleChildren(c); len(subs) > 0 {
		fmt.Fprintf(w, "\nCommands:\n\n")
		for _, s := range subs {
			fmt.Fprintf(w, "- [`%s`](#%s): %s\n", s.CommandPath(), Anchor(s), s.Short)
		}
	}
	local, inherited := Flags(c)
	writeFlags(w, "Flags", local)
	writeFlags(w, "Inherited flags", inherited)
}

func visibleChildren(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, s := range c.Commands() {
		if !s.Hidden && s.Name() != "help" {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// usageLine is the synopsis: the command's Use with its parents, and
// [flags] when it has any.
func usageLine(c *cobra.Command) string {
	line := c.UseLine()
	if c.HasAvailableSubCommands() && !c.Runnable() {
		line = c.CommandPath() + " COMMAND"
	}
	return line
}

func writeFlags(w io.Writer, title string, flags []*pflag.Flag) {
	if len(flags) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n\n| Flag | Default | Description |\n|---|---|---|\n", title)
	for _, f := range flags {
		fmt.Fprintf(w, "| %s | %s | %s |\n", FlagName(f), defaultText(f), cell(f.Usage+repeatable(f)))
	}
}

// FlagName is how the reference writes a flag: `-o, --output FORMAT`.
func FlagName(f *pflag.Flag) string {
	name := "--" + f.Name
	if f.Shorthand != "" {
		name = "-" + f.Shorthand + ", " + name
	}
	if arg := argName(f); arg != "" {
		name += " " + arg
	}
	return "`" + name + "`"
}

// argName names a flag's value: the back-quoted word of its usage when
// it has one (pflag's convention), else its type.
func argName(f *pflag.Flag) string {
	switch f.Value.Type() {
	case "bool":
		return ""
	case "stringArray", "stringSlice":
		name, _ := pflag.UnquoteUsage(f)
		if name == "stringArray" || name == "strings" {
			return "string"
		}
		return name
	}
	name, _ := pflag.UnquoteUsage(f)
	return name
}

func repeatable(f *pflag.Flag) string {
	switch f.Value.Type() {
	case "stringArray", "stringSlice", "intSlice", "int64Slice", "durationSlice":
		if !strings.Contains(f.Usage, "repeatable") {
			return " (repeatable)"
		}
	}
	return ""
}

func defaultText(f *pflag.Flag) string {
	switch d := f.DefValue; {
	case d == "" || d == "[]" || (f.Value.Type() == "bool" && d == "false"):
		return ""
	default:
		return "`" + d + "`"
	}
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// dedent removes the indentation every line of s shares (cobra examples
// are indented for the terminal).
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if common < 0 || n < common {
			common = n
		}
	}
	if common <= 0 {
		return s
	}
	for i, l := range lines {
		if len(l) >= common {
			lines[i] = l[common:]
		}
	}
	return strings.Join(lines, "\n")
}
