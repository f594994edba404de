//go:build !linux

package kubeapi

import (
	"context"
	"syscall"
)

// childAttr: only Linux can tie a child's life to its parent's; elsewhere
// a test binary that dies without Stop leaves its children running.
func childAttr() *syscall.SysProcAttr { return nil }

// lockFile does not lock outside Linux: parallel builds of one entry are
// still safe (each builds in a directory of its own), only wasteful.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
