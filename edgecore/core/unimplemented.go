package core

import (
	"context"
	"fmt"
)

// Unimplemented stands for a module this release does not ship yet. It is
// always disabled, says so at registration, and refuses to start, so it can
// never look as if it worked.
type Unimplemented struct {
	ModuleName  string
	ModuleGroup string
	// Requested is true when the configuration asked for the module.
	Requested bool
}

func (u Unimplemented) Name() string                  { return u.ModuleName }
func (u Unimplemented) Group() string                 { return u.ModuleGroup }
func (u Unimplemented) Enable() bool                  { return false }
func (u Unimplemented) RestartPolicy() *RestartPolicy { return nil }

// Start fails: the module does not exist in this release.
func (u Unimplemented) Start(context.Context) error {
	return fmt.Errorf("module %s: not implemented in this release", u.ModuleName)
}

// DisabledReason explains the state, noting when the configuration's
// request to enable it is being ignored.
func (u Unimplemented) DisabledReason() string {
	if u.Requested {
		return "not implemented in this release, disabled (enable: true in the configuration is ignored)"
	}
	return "not implemented in this release, disabled"
}
