package config

import (
	"context"
	"errors"
	"fmt"

	"plumb/internal/state"
)

// StateWarnings checks that every state source of every environment
// names at least one file. A
// source that matches nothing does not stop plumb serve (the state may
// be written later, by the first apply), but every scheduled scan and
// drift-check of that environment fails until it exists: a warning with
// the line says so at start-up rather than at 3 am. s3:// sources are not
// listed (that needs credentials and the network); the scan judges them.
func (c *Config) StateWarnings(ctx context.Context) Errors {
	var out Errors
	for i, e := range c.Environments {
		for j, src := range e.States {
			files, err := state.Match(ctx, src)
			if errors.Is(err, state.ErrRemote) {
				continue
			}
			if err == nil && len(files) > 0 {
				continue
			}
			why := "no file matches"
			if err != nil {
				why = err.Error()
			}
			field := fmt.Sprintf("environments[%d].states[%d]", i, j)
			out = append(out, &Error{File: c.Path, Line: c.line(field), Field: field, Warning: true,
				Msg: fmt.Sprintf("%s: %s; scans of environment %q fail until a state file exists there", src, why, e.Name)})
		}
	}
	return out
}

// line is the line of a field path in the file the config came from, or
// of its closest parent.
func (c *Config) line(field string) int {
	v := validator{pos: c.lines}
	return v.line(field)
}
