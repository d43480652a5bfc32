//go:build unix

package receivers

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the command as the leader of its own process
// group and makes cancellation kill the whole group, so a runbook that
// forks (a shell running curl, a sleep) cannot outlive its timeout.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// A negative pid signals the group whose id is the leader's pid.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
