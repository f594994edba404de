package containerlog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTinyTmpfs mounts a 64 KiB tmpfs for the test, skipping where that
// cannot be done.
func mountTinyTmpfs(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: mounts a tmpfs")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=64k"); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("cannot mount a tmpfs here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestFullDiskDropsAndRecovers(t *testing.T) {
	root := mountTinyTmpfs(t)
	filler := filepath.Join(root, "filler")
	if err := os.WriteFile(filler, make([]byte, 40<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := Path(root, "default", "web", "u1", "app", 0)
	w, err := Open(path, Limits{MaxBytes: 1 << 20}, nil) // the cap is beyond the disk
	if err != nil {
		t.Fatal(err)
	}
	before := numberedLines("before", 500, 100) // about 70 KiB of records for ~20 KiB of room
	in := strings.NewReader(joinLines(before))
	if err := w.Copy(Stdout, in); err != nil {
		t.Fatal(err)
	}
	if in.Len() != 0 {
		t.Fatalf("Copy left %d bytes unread on a full disk", in.Len())
	}
	stats := w.Stats()
	if stats.DroppedRecords == 0 || !errors.Is(stats.LastError, syscall.ENOSPC) {
		t.Fatalf("stats %+v, want drops because of ENOSPC", stats)
	}
	// What made it is whole records, in order, without gaps inside a batch
	// being glued together.
	written := joinRecords(readRecords(t, path), Stdout)
	if len(written) == 0 || int64(len(written))+stats.DroppedRecords != int64(len(before)) {
		t.Errorf("%d lines written + %d dropped, want %d", len(written), stats.DroppedRecords, len(before))
	}

	// Space comes back: the next lines are written.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	after := numberedLines("after", 50, 100)
	if err := w.Copy(Stdout, strings.NewReader(joinLines(after))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.DroppedRecords != stats.DroppedRecords {
		t.Errorf("dropped %d more records after space was freed", s.DroppedRecords-stats.DroppedRecords)
	}
	tail, err := Tail(path, len(after))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tail, "\n") != strings.Join(after, "\n") {
		t.Errorf("after freeing space the log ends with %d lines %q..., want the new ones", len(tail), tail[:min(2, len(tail))])
	}
}

func TestRotationOnSmallDiskStaysWithinIt(t *testing.T) {
	root := mountTinyTmpfs(t)
	path := Path(root, "default", "web", "u1", "app", 0)
	l := Limits{MaxBytes: 12 << 10, MaxFiles: 4} // 48 KiB of logs on a 64 KiB disk
	w, err := Open(path, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := numberedLines("line", 5000, 100) // about 700 KiB
	if err := w.Copy(Stdout, strings.NewReader(joinLines(lines))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.DroppedRecords != 0 || s.Rotations == 0 {
		t.Errorf("stats %+v, want rotations and no drops", s)
	}
	tail, err := Tail(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tail, "\n") != strings.Join(lines[len(lines)-10:], "\n") {
		t.Errorf("log ends with %q", tail)
	}
}
