//go:build e2e && !linux

package e2e

import "syscall"

// procAttr: without Linux's parent-death signal, nodes outlive a test
// binary that is killed (teardown still kills them on a normal exit).
func procAttr() *syscall.SysProcAttr { return nil }
