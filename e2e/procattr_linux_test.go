//go:build e2e && linux

package e2e

import "syscall"

// procAttr makes a node die with the test binary, even if it is killed.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
