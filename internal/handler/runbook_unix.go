//go:build !windows

package handler

import (
	"os/exec"
	"syscall"
)

// killTreeOnCancel runs the runbook in its own process group and kills the
// whole group when the runbook is cancelled or times out, so a script's
// children do not outlive it.
func killTreeOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Negative pid: the whole process group.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
