//go:build !unix

package receivers

import "os/exec"

// setProcessGroup has no process groups to use on this platform: only the
// command itself is killed on timeout (exec.CommandContext's default).
func setProcessGroup(*exec.Cmd) {}
