package volume

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDiskUsage: allocated blocks, as du counts them: a file written in
// full counts its size, a sparse one what it holds, a second link
// nothing, another filesystem below nothing.
func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	empty, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full")
	if err := os.WriteFile(full, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(full, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	sparse, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sparse.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	sparse.Close()
	got, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The filesystem may allocate a little more than 1 MiB (indirect
	// blocks), never 2 MiB (the link) nor 64 MiB (the hole).
	if grew := got - empty; grew < 1<<20 || grew > 1<<20+64<<10 {
		t.Errorf("usage grew by %d bytes for a 1 MiB file, a link to it and a 64 MiB hole", grew)
	}
	if _, err := DiskUsage(filepath.Join(dir, "absent")); err == nil {
		t.Error("usage of a missing directory: no error")
	}
}

func TestDiskUsageStaysOnItsFilesystem(t *testing.T) {
	requireMounts(t)
	dir := t.TempDir()
	before, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "mnt")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=4m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(sub, "f"), make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got-before > 64<<10 {
		t.Errorf("usage counted the mounted tmpfs: %d bytes more", got-before)
	}
}
