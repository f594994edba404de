package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/edgegate/edgegate/edgecore/dbm"
)

// edgecore started on a corrupt store moves it aside, says so, and runs
// on an empty store instead of failing at every start; the next start
// finds a sound store and moves nothing.
func TestStartsOnACorruptStore(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, nil)
	store := filepath.Join(dir, "edgecore.db")
	garbage := bytes.Repeat([]byte("not a bbolt page "), 2000)
	if err := os.WriteFile(store, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	for start := 0; start < 2; start++ {
		cmd, sc, all, exit := child(t, "--config", cfg)
		seen := strings.Join(waitLine(t, sc, "module metamanager started"), "\n")
		if reported := strings.Contains(seen, "was corrupt") && strings.Contains(seen, store+".corrupt-"); reported != (start == 0) {
			t.Fatalf("start %d: reset reported %v, want %v; log:\n%s", start, reported, start == 0, seen)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitLine(t, sc, "edgecore stopped")
		if code := <-exit; code != 0 {
			t.Fatalf("start %d: exit %d:\n%s", start, code, all.String())
		}
	}
	resets, err := dbm.Resets(store)
	if err != nil || len(resets) != 1 {
		t.Fatalf("moved aside: %+v (%v), want the one corrupt store", resets, err)
	}
	kept, err := os.ReadFile(resets[0].MovedTo)
	if err != nil || !bytes.Equal(kept, garbage) {
		t.Fatalf("the corrupt store was not kept as it was (%v)", err)
	}
}
