//go:build windows

package handler

import "os/exec"

// killTreeOnCancel keeps exec's default on Windows: the runbook process
// itself is killed on cancel or timeout (Windows has no process groups to
// signal; a script's own children may outlive it there).
func killTreeOnCancel(cmd *exec.Cmd) {}
