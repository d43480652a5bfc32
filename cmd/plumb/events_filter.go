package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"plumb/internal/filter"
)

// Exit codes of plumb events test-pattern and test-filter. 1 means only
// "evaluated, no match"; everything that stops the evaluation (an invalid
// pattern, filter or event, an unreadable file, a wrong command line) is
// 2, so a script can tell a clean "no" from a broken test.
const (
	exitNoMatch  = 1
	exitBadInput = 2
)

// maxTestInput bounds what the test commands read from a file or stdin.
const maxTestInput = 16 << 20

const filterTestExitCodes = `
Exit codes: 0 the event matches, 1 it does not (the reasons are printed),
2 the pattern, filter or event is invalid or unreadable, or the command
line is wrong. The evaluation is plumb serve's own: the same compiler,
limits and matcher.`

func newTestPatternCmd(stdout io.Writer) *cobra.Command {
	var patternPath, eventPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test-pattern --pattern FILE --event FILE",
		Short: "Check whether an EventBridge event pattern matches an event, and why not",
		Long: `Reads an EventBridge event pattern and one event (JSON files, or - for
stdin) and says whether EventBridge, as plumb serve evaluates it, would match
the event; when not, it names every field that failed and why. Run locally,
no server needed: the aws events test-event-pattern of plumb.
` + filterTestExitCodes,
		Example: `  plumb events test-pattern --pattern rule.json --event event.json
  aws events describe-rule --name r --query EventPattern --output text | plumb events test-pattern --pattern - --event event.json`,
		Args: noArgsBadInput,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pattern, event, err := readTestInputs(cmd, "--pattern", patternPath, eventPath)
			if err != nil {
				return err
			}
			v, err := filter.TestPattern(pattern.data, event.data)
			return printVerdict(stdout, v, err, pattern, event, asJSON)
		},
	}
	cmd.Flags().StringVar(&patternPath, "pattern", "", "event pattern JSON file (- for stdin)")
	cmd.Flags().StringVar(&eventPath, "event", "", "event JSON file (- for stdin)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"match": bool, "reasons": [{"field", "reason"}]} as JSON`)
	cmd.SetFlagErrorFunc(flagErrorBadInput)
	return cmd
}

func newTestFilterCmd(stdout io.Writer) *cobra.Command {
	var filterPath, eventPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test-filter --filter FILE --event FILE",
		Short: "Check whether an Event Grid subscription filter delivers an event, and why not",
		Long: `Reads an Event Grid event subscription filter and one event (JSON files, or
- for stdin) and says whether Event Grid, as plumb serve evaluates it, would
deliver the event; when not, it names every part of the filter that failed
(included event types, subject begins/ends with, each advanced filter) and why.

The filter is in Azure's JSON spelling (includedEventTypes, subjectBeginsWith,
subjectEndsWith, isSubjectCaseSensitive, enableAdvancedFilteringOnArrays,
advancedFilters with operatorType, key, value or values): the filter object,
the output of az eventgrid event-subscription show (its "filter"), or an ARM
resource (its "properties.filter"). Unknown members are refused. Errors and
reasons name filter parts as plumb.yaml does (advanced_filters[0] is the first
advanced filter).
` + filterTestExitCodes,
		Example: `  plumb events test-filter --filter filter.json --event event.json
  az eventgrid event-subscription show --name s --source-resource-id ID | plumb events test-filter --filter - --event event.json`,
		Args: noArgsBadInput,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, event, err := readTestInputs(cmd, "--filter", filterPath, eventPath)
			if err != nil {
				return err
			}
			v, err := filter.TestEventGrid(f.data, event.data)
			return printVerdict(stdout, v, err, f, event, asJSON)
		},
	}
	cmd.Flags().StringVar(&filterPath, "filter", "", "event subscription filter JSON file (- for stdin)")
	cmd.Flags().StringVar(&eventPath, "event", "", "event JSON file (- for stdin)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"match": bool, "reasons": [{"field", "reason"}]} as JSON`)
	cmd.SetFlagErrorFunc(flagErrorBadInput)
	return cmd
}

func noArgsBadInput(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &exitCodeError{code: exitBadInput, err: fmt.Errorf("unexpected argument %q: give the files with --pattern/--filter and --event", args[0])}
	}
	return nil
}

func flagErrorBadInput(_ *cobra.Command, err error) error {
	return &exitCodeError{code: exitBadInput, err: err}
}

// testInput is one input of a test command and where it came from.
type testInput struct {
	name string // file name, or "stdin"
	data []byte
}

func readTestInputs(cmd *cobra.Command, flag, path, eventPath string) (testInput, testInput, error) {
	if path == "" {
		return testInput{}, testInput{}, &exitCodeError{code: exitBadInput, err: fmt.Errorf("%s is required (a JSON file, or - for stdin)", flag)}
	}
	if eventPath == "" {
		return testInput{}, testInput{}, &exitCodeError{code: exitBadInput, err: errors.New("--event is required (a JSON file, or - for stdin)")}
	}
	if path == "-" && eventPath == "-" {
		return testInput{}, testInput{}, &exitCodeError{code: exitBadInput, err: fmt.Errorf("only one of %s and --event can read stdin", flag)}
	}
	a, err := readTestInput(cmd, path)
	if err != nil {
		return testInput{}, testInput{}, err
	}
	b, err := readTestInput(cmd, eventPath)
	if err != nil {
		return testInput{}, testInput{}, err
	}
	return a, b, nil
}

func readTestInput(cmd *cobra.Command, path string) (testInput, error) {
	var r io.Reader
	in := testInput{name: path}
	if path == "-" {
		r, in.name = cmd.InOrStdin(), "stdin"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return in, &exitCodeError{code: exitBadInput, err: err}
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxTestInput+1))
	if err != nil {
		return in, &exitCodeError{code: exitBadInput, err: fmt.Errorf("read %s: %w", in.name, err)}
	}
	if len(b) > maxTestInput {
		return in, &exitCodeError{code: exitBadInput, err: fmt.Errorf("%s: larger than %d MiB", in.name, maxTestInput>>20)}
	}
	in.data = b
	return in, nil
}

// printVerdict prints the answer and turns it into the exit code. An
// input error names the file it came from.
func printVerdict(stdout io.Writer, v filter.Verdict, err error, f, event testInput, asJSON bool) error {
	if err != nil {
		var ie *filter.InputError
		name := f.name
		if errors.As(err, &ie) && ie.Input == "event" {
			name = event.name
		}
		return &exitCodeError{code: exitBadInput, err: fmt.Errorf("%s: %w", name, err)}
	}
	if asJSON {
		if err := json.NewEncoder(stdout).Encode(v); err != nil {
			return err
		}
	} else {
		if v.Match {
			fmt.Fprintln(stdout, "match")
		} else {
			fmt.Fprintln(stdout, "no match")
			for _, r := range v.Reasons {
				fmt.Fprintf(stdout, "  %s: %s\n", r.Field, r.Reason)
			}
		}
	}
	if !v.Match {
		return &exitCodeError{code: exitNoMatch}
	}
	return nil
}
