package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplacesContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	if err := WriteFile(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "two" {
		t.Fatalf("content = %q, want %q", got, "two")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode = %v, want 0644", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want only the target (temp files left behind)", len(entries))
	}
}

func TestWriteFileMissingDirKeepsNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent", "state")
	if err := WriteFile(path, []byte("x"), 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestWriteFileBelowAFileKeepsIt(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(blocker, "child"), []byte("y"), 0o600); err == nil {
		t.Fatal("writing below a regular file succeeded")
	}
	if got, _ := os.ReadFile(blocker); string(got) != "x" {
		t.Fatalf("the file in the way changed to %q", got)
	}
}

func TestMkdirAll(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "c")
	if err := MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(root, "a"), filepath.Join(root, "a", "b"), dir} {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v, want a 0700 directory", d, st, err)
		}
	}
	if err := MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("existing directory: %v", err)
	}
	file := filepath.Join(root, "f")
	os.WriteFile(file, nil, 0o600)
	if err := MkdirAll(filepath.Join(file, "d"), 0o700); err == nil {
		t.Fatal("a directory below a regular file was made")
	}
	if err := MkdirAll(file, 0o700); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("MkdirAll on a regular file = %v, want ErrExist", err)
	}
}

func TestRenameDirectory(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "tmp"), filepath.Join(root, "sub", "next")
	os.Mkdir(src, 0o700)
	os.Mkdir(filepath.Dir(dst), 0o700)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o600)
	if err := Rename(src, dst); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "f")); err != nil || string(got) != "x" {
		t.Fatalf("after rename: %q, %v", got, err)
	}
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old name still there: %v", err)
	}
	if err := Rename(src, dst); err == nil {
		t.Fatal("renaming a missing directory succeeded")
	}
}

func TestRemoveAndRemoveAll(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "f")
	os.WriteFile(file, []byte("x"), 0o600)
	for i := 0; i < 2; i++ { // the second time it is already gone
		if err := Remove(file); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("file still there: %v", err)
	}
	dir := filepath.Join(root, "d")
	os.MkdirAll(filepath.Join(dir, "e"), 0o700)
	os.WriteFile(filepath.Join(dir, "e", "f"), nil, 0o600)
	if err := Remove(dir); err == nil {
		t.Fatal("Remove took a non-empty directory")
	}
	for i := 0; i < 2; i++ {
		if err := RemoveAll(dir); err != nil {
			t.Fatalf("RemoveAll #%d: %v", i+1, err)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}
