package dbm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"
)

// Page layout of bbolt files, for damaging them on purpose: a 16-byte
// page header (id, flags, count, overflow), then for a meta page magic,
// version, page size, flags, root bucket, freelist, high-water mark, txid
// and checksum; for a branch page 16-byte elements (pos, ksize, pgid).
const (
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	metaVersionOff  = 16 + 4
	metaRootOff     = 16 + 16
	branchPgidOff   = 16 + 8
	pageHeaderFlags = 8
)

var pageSize = os.Getpagesize()

// treePages finds, in a store makeDB wrote, the meta table's root (a
// branch page, since the table spans several pages) and its first leaf:
// pages in use, unlike the freed copies earlier transactions left.
func treePages(t *testing.T, path string) (branch, leaf int) {
	t.Helper()
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.View(func(tx *Tx) error {
		branch = int(tx.tx.Bucket([]byte("meta")).Root())
		return nil
	})
	_ = d.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flags := func(id int) uint16 { return binary.LittleEndian.Uint16(data[id*pageSize+pageHeaderFlags:]) }
	leaf = int(binary.LittleEndian.Uint64(data[branch*pageSize+branchPgidOff:]))
	if flags(branch) != branchPageFlag || flags(leaf) != leafPageFlag {
		t.Fatalf("pages %d (%#x) and %d (%#x) are not the branch and leaf expected", branch, flags(branch), leaf, flags(leaf))
	}
	return branch, leaf
}

// highWater is where the pages of the store at path end, by its meta page.
func highWater(t *testing.T, path string) int64 {
	t.Helper()
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var size int64
	_ = d.View(func(tx *Tx) error { size = tx.tx.Size(); return nil })
	return size
}

func putUint64(t *testing.T, path string, off int64, v uint64) {
	t.Helper()
	overwrite(t, path, off, binary.LittleEndian.AppendUint64(nil, v))
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func digest(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// movedAside lists what sits beside the store: moved-aside stores and
// their reasons.
func movedAside(t *testing.T, path string) []string {
	t.Helper()
	matches, err := filepath.Glob(path + corruptInfix + "*")
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

// corruptions damage a real store in the ways a power cut, a failing card
// or a bad copy do. Each leaves a file no bbolt reader can trust.
var corruptions = []struct {
	name    string
	corrupt func(t *testing.T, path string)
}{
	{"not a database", func(t *testing.T, path string) {
		writeFile(t, path, []byte(strings.Repeat("SQLite format 3\x00", 1024)))
	}},
	{"truncated to a few bytes", func(t *testing.T, path string) {
		makeDB(t, path)
		truncate(t, path, 100)
	}},
	{"truncated to one page", func(t *testing.T, path string) {
		makeDB(t, path)
		truncate(t, path, int64(pageSize))
	}},
	{"truncated to half", func(t *testing.T, path string) {
		makeDB(t, path)
		truncate(t, path, fileSize(t, path)/2/int64(pageSize)*int64(pageSize))
	}},
	{"last page cut off", func(t *testing.T, path string) {
		// Pages the meta page counts lie past the end of the file; inside
		// bbolt's mapping, reading them is a bus error.
		makeDB(t, path)
		truncate(t, path, highWater(t, path)-int64(pageSize))
	}},
	{"bad checksums in both meta pages", func(t *testing.T, path string) {
		makeDB(t, path)
		for _, id := range []int64{0, 1} {
			putUint64(t, path, id*int64(pageSize)+metaRootOff, 7)
		}
	}},
	{"meta pages of another format version", func(t *testing.T, path string) {
		makeDB(t, path)
		for _, id := range []int64{0, 1} {
			overwrite(t, path, id*int64(pageSize)+metaVersionOff, []byte{9, 0, 0, 0})
		}
	}},
	{"meta pages zeroed", func(t *testing.T, path string) {
		makeDB(t, path)
		overwrite(t, path, 0, make([]byte, 2*pageSize))
	}},
	{"every data page garbage", func(t *testing.T, path string) {
		makeDB(t, path)
		junk := bytes.Repeat([]byte("\xde\xad\xbe\xef"), (int(fileSize(t, path))-2*pageSize)/4)
		overwrite(t, path, int64(2*pageSize), junk)
	}},
	{"one leaf page garbage", func(t *testing.T, path string) {
		makeDB(t, path)
		_, leaf := treePages(t, path)
		overwrite(t, path, int64(leaf*pageSize), bytes.Repeat([]byte{0x5a}, pageSize))
	}},
	{"branch pointing just past the end of the file", func(t *testing.T, path string) {
		// Inside bbolt's mapping but not backed by the file: a bus error.
		makeDB(t, path)
		branch, _ := treePages(t, path)
		putUint64(t, path, int64(branch*pageSize+branchPgidOff), uint64(fileSize(t, path))/uint64(pageSize)+1)
	}},
	{"branch pointing far past the end of the file", func(t *testing.T, path string) {
		// Outside bbolt's mapping: a segmentation fault.
		makeDB(t, path)
		branch, _ := treePages(t, path)
		putUint64(t, path, int64(branch*pageSize+branchPgidOff), 1<<24)
	}},
}

// A corrupt store is moved aside, unchanged, with its reason beside it,
// and an empty store opens in its place and works; without ResetCorrupt
// the same file is refused with ErrCorrupt and left where it is.
func TestCorruptStoreIsMovedAside(t *testing.T) {
	for _, tt := range corruptions {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "edgecore.db")
			tt.corrupt(t, path)
			before := digest(t, path)

			if _, err := Open(path, Options{Tables: []string{"meta"}}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open without ResetCorrupt = %v, want ErrCorrupt naming the file", err)
			}
			if got := movedAside(t, path); len(got) != 0 || digest(t, path) != before {
				t.Fatalf("Open without ResetCorrupt moved or changed the store: %v", got)
			}

			at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
			d, err := Open(path, Options{Tables: []string{"meta"}, ResetCorrupt: true, now: func() time.Time { return at }})
			if err != nil {
				t.Fatalf("Open with ResetCorrupt: %v", err)
			}
			defer d.Close()
			r, ok := d.Reset()
			wantMoved := path + ".corrupt-20260304T050607Z"
			if !ok || r.MovedTo != wantMoved || !r.At.Equal(at) || r.Store != path || r.Reason == "" {
				t.Fatalf("Reset() = %+v, %v; want the store moved to %s at %v with a reason", r, ok, wantMoved, at)
			}
			if digest(t, wantMoved) != before {
				t.Fatalf("the moved store differs from the corrupt one")
			}
			if last, ok, err := LastReset(path); err != nil || !ok || last != r {
				t.Fatalf("LastReset = %+v, %v, %v; want %+v", last, ok, err, r)
			}
			t.Logf("reason: %s", r.Reason)
			if err := d.Update(func(tx *Tx) error { return tx.Put("meta", "k", []byte("v")) }); err != nil {
				t.Fatalf("the new store does not take writes: %v", err)
			}
			_ = d.Close()
			d2, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("reopening the new store: %v", err)
			}
			defer d2.Close()
			if _, ok := d2.Reset(); ok {
				t.Fatalf("a sound store was reported reset")
			}
			_ = d2.View(func(tx *Tx) error {
				if v, ok, err := tx.Get("meta", "k"); err != nil || !ok || string(v) != "v" {
					t.Fatalf("write to the new store lost: %q %v %v", v, ok, err)
				}
				return nil
			})
		})
	}
}

// bbolt keeps two meta pages so that one torn write is survived: one bad
// meta page is not corruption, and nothing moves.
func TestOneBadMetaPageIsNotCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgecore.db")
	makeDB(t, path)
	putUint64(t, path, metaRootOff, 7)
	d, err := Open(path, Options{Tables: []string{"meta"}, ResetCorrupt: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.Reset(); ok || len(movedAside(t, path)) != 0 {
		t.Fatalf("store moved aside for one bad meta page: %v", movedAside(t, path))
	}
}

// What the environment fails says nothing about the file: nothing moves,
// and the error names the cause.
func TestTransientErrorsMoveNothing(t *testing.T) {
	t.Run("locked by another process", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "edgecore.db")
		writeFile(t, path, []byte(strings.Repeat("SQLite format 3\x00", 1024)))
		holdLock(t, path)
		_, err := Open(path, Options{ResetCorrupt: true, LockTimeout: 100 * time.Millisecond})
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("Open = %v, want ErrLocked", err)
		}
		if got := movedAside(t, path); len(got) != 0 {
			t.Fatalf("moved %v", got)
		}
	})
	t.Run("unreadable directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "kubeedge")
		path := filepath.Join(dir, "edgecore.db")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, []byte(strings.Repeat("SQLite format 3\x00", 1024)))
		if err := os.Chmod(dir, 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o755)
		out := openAsUnprivileged(t, path)
		if !strings.Contains(out, "permission denied") || strings.Contains(out, ErrCorrupt.Error()) || strings.Contains(out, "opened") {
			t.Fatalf("unprivileged Open said %q, want permission denied", out)
		}
		os.Chmod(dir, 0o755)
		if got := movedAside(t, path); len(got) != 0 {
			t.Fatalf("moved %v", got)
		}
	})
	t.Run("read-only filesystem", func(t *testing.T) {
		dir := mountTmpfs(t, "size=1m")
		path := filepath.Join(dir, "edgecore.db")
		writeFile(t, path, []byte(strings.Repeat("SQLite format 3\x00", 1024)))
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{ResetCorrupt: true})
		if !errors.Is(err, syscall.EROFS) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open = %v, want EROFS and not ErrCorrupt", err)
		}
		if got := movedAside(t, path); len(got) != 0 {
			t.Fatalf("moved %v", got)
		}
	})
	t.Run("the file cannot be read back", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "edgecore.db")
		makeDB(t, path)
		overwrite(t, path, 0, make([]byte, 2*pageSize))
		eio := func(string) error { return &fs.PathError{Op: "read", Path: path, Err: syscall.EIO} }
		_, err := Open(path, Options{ResetCorrupt: true, readBack: eio})
		if !errors.Is(err, syscall.EIO) || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "nothing was moved") {
			t.Fatalf("Open = %v, want the I/O error, not ErrCorrupt", err)
		}
		if got := movedAside(t, path); len(got) != 0 {
			t.Fatalf("moved %v", got)
		}
	})
	t.Run("a read error that goes away", func(t *testing.T) {
		// bbolt reports a failed read of the meta pages as an invalid
		// file; when the file reads back sound, it opens on the second try.
		path := filepath.Join(t.TempDir(), "edgecore.db")
		makeDB(t, path)
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		overwrite(t, path, 0, make([]byte, 2*pageSize))
		heal := func(string) error { return os.WriteFile(path, good, 0o600) }
		d, err := Open(path, Options{ResetCorrupt: true, readBack: heal})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, ok := d.Reset(); ok || len(movedAside(t, path)) != 0 {
			t.Fatalf("a store that opened on the second try was moved aside")
		}
	})
}

// A full disk after the move: the half-made new store is removed, the
// error says where the corrupt one went, and once there is room the next
// start opens an empty store without moving anything else.
func TestResetOnFullDisk(t *testing.T) {
	dir := mountTmpfs(t, "size=256k")
	path := filepath.Join(dir, "edgecore.db")
	writeFile(t, path, bytes.Repeat([]byte{0x5a}, 64<<10))
	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	_, err := Open(path, Options{ResetCorrupt: true})
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "moved to "+path+corruptInfix) {
		t.Fatalf("Open = %v, want ErrDiskFull naming where the store went", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a half-made store was left at %s: %v", path, err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path, Options{ResetCorrupt: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if resets, err := Resets(path); err != nil || len(resets) != 1 {
		t.Fatalf("moved aside: %v (%v), want the one corrupt store", resets, err)
	}
}

// Moved-aside stores are bounded: the newest KeepCorrupt stay, numbered
// when two moves fall in the same second, and one moved under a clock
// set back is kept even though its name looks oldest.
func TestMovedAsideStoresAreBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgecore.db")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{t0, t0.Add(time.Hour), t0.Add(time.Hour), t0.Add(2 * time.Hour), t0.Add(3 * time.Hour), t0.Add(-time.Hour)}
	for _, at := range times {
		writeFile(t, path, []byte(strings.Repeat("garbage!", 1024)))
		d, err := Open(path, Options{ResetCorrupt: true, KeepCorrupt: 3, now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	resets, err := Resets(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range resets {
		got = append(got, strings.TrimPrefix(r.MovedTo, path+corruptInfix))
		if _, err := os.Stat(r.MovedTo + reasonSuffix); err != nil || r.Reason == "" {
			t.Errorf("%s: no reason kept (%v)", r.MovedTo, err)
		}
	}
	want := []string{"20260101T030000Z", "20260101T020000Z", "20251231T230000Z"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	if n := len(movedAside(t, path)); n != 6 {
		t.Fatalf("%d files beside the store, want 3 stores and 3 reasons", n)
	}
}

// Same-second moves get numbered names, listed newest first.
func TestResetNamesWithinOneSecond(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgecore.db")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		writeFile(t, path, []byte(strings.Repeat("garbage!", 1024)))
		d, err := Open(path, Options{ResetCorrupt: true, now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
		_ = os.Remove(path)
	}
	resets, _ := Resets(path)
	var got []string
	for _, r := range resets {
		got = append(got, filepath.Base(r.MovedTo))
	}
	want := "[edgecore.db.corrupt-20260101T000000Z-2 edgecore.db.corrupt-20260101T000000Z-1 edgecore.db.corrupt-20260101T000000Z]"
	if fmt.Sprint(got) != want {
		t.Fatalf("names %v, want %s", got, want)
	}
}

// Which errors of bbolt's open prove the file bad.
func TestClassifyOpen(t *testing.T) {
	dir := t.TempDir()
	onePage := filepath.Join(dir, "one-page")
	writeFile(t, onePage, make([]byte, pageSize))
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, nil)
	tooSmall := errors.New("file size too small 4096")
	tests := []struct {
		name    string
		path    string
		err     error
		corrupt bool
		want    error
	}{
		{"bad magic", empty, bolterrors.ErrInvalid, true, bolterrors.ErrInvalid},
		{"bad checksum", empty, bolterrors.ErrChecksum, true, bolterrors.ErrChecksum},
		{"other version", empty, bolterrors.ErrVersionMismatch, true, bolterrors.ErrVersionMismatch},
		{"panic while reading", empty, fmt.Errorf("%w: boom", ErrCorrupt), true, ErrCorrupt},
		{"shorter than the meta pages", onePage, tooSmall, true, tooSmall},
		{"lock wait", onePage, bolterrors.ErrTimeout, false, ErrLocked},
		{"I/O error", onePage, &fs.PathError{Op: "read", Path: onePage, Err: syscall.EIO}, false, syscall.EIO},
		{"permission", onePage, &fs.PathError{Op: "open", Path: onePage, Err: syscall.EACCES}, false, syscall.EACCES},
		{"disk full", onePage, fmt.Errorf("write: %w", syscall.ENOSPC), false, ErrDiskFull},
		{"out of memory for the mapping", onePage, fmt.Errorf("mmap: %w", syscall.ENOMEM), false, syscall.ENOMEM},
		{"an unknown error of a sound-sized file", empty, errors.New("madvise: invalid argument"), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyOpen(tt.path, tt.err, time.Second)
			if errors.Is(got, ErrCorrupt) != tt.corrupt || (tt.want != nil && !errors.Is(got, tt.want)) {
				t.Fatalf("classifyOpen(%v) = %v; corrupt %v, want %v and %v", tt.err, got, errors.Is(got, ErrCorrupt), tt.corrupt, tt.want)
			}
		})
	}
}

// mountTmpfs mounts a tmpfs with opts on a temporary directory, or skips
// the test when that needs privileges it has not.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

const (
	holdLockEnv = "EDGEGATE_DBM_HOLD_LOCK"
	openEnv     = "EDGEGATE_DBM_OPEN"
)

// holdLock has another process take the store's lock, as a second
// edgecore would, until the test ends.
func holdLock(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdLockEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line := make([]byte, 7)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "locked\n" {
		t.Fatalf("lock holder: %q %v", line, err)
	}
}

// lockHolder takes path's lock and keeps it until its input closes.
func lockHolder(path string) {
	f, err := lockFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock holder:", err)
		os.Exit(2)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	f.Close()
	os.Exit(0)
}

// openAsUnprivileged runs Open(path) with ResetCorrupt in a process
// without root's power to read anything, and returns what it said. Root
// runs a copy of the test binary as nobody; others open in-process.
func openAsUnprivileged(t *testing.T, path string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		_, err := Open(path, Options{ResetCorrupt: true})
		return fmt.Sprint(err)
	}
	bin := filepath.Join(t.TempDir(), "dbm.test")
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	for dir := filepath.Dir(filepath.Dir(path)); dir != "/"; dir = filepath.Dir(dir) {
		if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, st.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(dir, st.Mode().Perm())
		}
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), openEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged open: %v: %s", err, out)
	}
	return string(out)
}

// openOnce is the unprivileged side of openAsUnprivileged.
func openOnce(path string) {
	d, err := Open(path, Options{ResetCorrupt: true})
	if err == nil {
		_, reset := d.Reset()
		fmt.Println("opened; reset:", reset)
		os.Exit(0)
	}
	fmt.Println(err)
	os.Exit(0)
}
