package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/core"
	"github.com/edgegate/edgegate/edgecore/dbm"
)

// deaf ignores shutdown while holding a read transaction on the store.
type deaf struct {
	db      *dbm.DB
	up      chan struct{}
	release chan struct{}
}

func (d *deaf) Name() string                       { return "deaf" }
func (d *deaf) Group() string                      { return "deaf" }
func (d *deaf) Enable() bool                       { return true }
func (d *deaf) RestartPolicy() *core.RestartPolicy { return nil }
func (d *deaf) Start(context.Context) error {
	return d.db.View(func(*dbm.Tx) error {
		close(d.up)
		<-d.release
		return nil
	})
}

// TestStuckModuleEndsWithError checks that a module ignoring shutdown makes
// edgecore stop after the bounded wait with an error naming it (exit code
// 1), instead of hanging on the store it still holds.
func TestStuckModuleEndsWithError(t *testing.T) {
	db, err := dbm.Open(filepath.Join(t.TempDir(), "edgecore.db"), dbm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &deaf{db: db, up: make(chan struct{}), release: make(chan struct{})}
	defer func() { close(d.release); _ = db.Close() }()
	c := core.New(core.WithShutdownTimeout(100 * time.Millisecond))
	c.Register(d)
	res := make(chan error, 1)
	go func() { res <- runCore(c, db) }()
	<-d.up
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, core.ErrModulesStuck) || !strings.Contains(err.Error(), "deaf") {
			t.Fatalf("runCore = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("edgecore hung on a module that ignores shutdown")
	}
}
