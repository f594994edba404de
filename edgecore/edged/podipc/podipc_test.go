package podipc

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func requireMounts(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("creates namespaces and mounts; not in -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestSetup: an IPC namespace that is not edgecore's, and a 64 MiB
// noexec/nosuid/nodev tmpfs of mode 1777; a second Setup keeps both.
func TestSetup(t *testing.T) {
	requireMounts(t)
	dir := filepath.Join(t.TempDir(), "pod")
	t.Cleanup(func() {
		for _, p := range []string{For(dir).Shm, For(dir).Namespace} {
			_ = unix.Unmount(p, unix.MNT_DETACH)
		}
	})
	p, err := Setup(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p != For(dir) {
		t.Errorf("Setup = %+v, want %+v", p, For(dir))
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(p.Namespace, &fs); err != nil || fs.Type != unix.NSFS_MAGIC {
		t.Fatalf("%s is not a namespace pin (%#x, %v)", p.Namespace, fs.Type, err)
	}
	ns := inode(t, p.Namespace)
	// This thread's namespace, not /proc/self's: /proc/self is the main
	// thread, and the thread that made the pod's namespace may have been
	// it (Go then retires that thread, still in the pod's namespace).
	runtime.LockOSThread()
	own := inode(t, "/proc/thread-self/ns/ipc")
	runtime.UnlockOSThread()
	if ns == own {
		t.Error("the pod's IPC namespace is edgecore's")
	}
	if err := unix.Statfs(p.Shm, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC || fs.Blocks*uint64(fs.Bsize) != 64<<20 {
		t.Fatalf("%s: %#x of %d bytes (%v), want a 64 MiB tmpfs", p.Shm, fs.Type, fs.Blocks*uint64(fs.Bsize), err)
	}
	for _, flag := range []int64{unix.ST_NOEXEC, unix.ST_NOSUID, unix.ST_NODEV} {
		if fs.Flags&flag == 0 {
			t.Errorf("shm mount flags %#x lack %#x", fs.Flags, flag)
		}
	}
	if info, err := os.Stat(p.Shm); err != nil || info.Mode() != os.ModeDir|os.ModeSticky|0o777 {
		t.Errorf("shm mode %v (%v), want 1777", info.Mode(), err)
	}
	if err := os.WriteFile(filepath.Join(p.Shm, "seg"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Setup(dir); err != nil {
		t.Fatal(err)
	}
	if inode(t, p.Namespace) != ns {
		t.Error("a second Setup made another namespace")
	}
	if _, err := os.Stat(filepath.Join(p.Shm, "seg")); err != nil {
		t.Errorf("a second Setup lost /dev/shm's content: %v", err)
	}
}

// TestJoinedNamespaceIsShared: a SysV message queue made by a thread that
// joined the pin is seen by another thread that joined it, and not from
// edgecore's own namespace.
func TestJoinedNamespaceIsShared(t *testing.T) {
	requireMounts(t)
	dir := filepath.Join(t.TempDir(), "pod")
	p, err := Setup(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.Unmount(p.Shm, unix.MNT_DETACH)
		_ = unix.Unmount(p.Namespace, unix.MNT_DETACH)
	})
	const key = 0x0edee
	inPod := func(f func() error) error {
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // dies with the goroutine, in the pod's namespace
			fd, err := unix.Open(p.Namespace, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				done <- err
				return
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWIPC); err != nil {
				done <- err
				return
			}
			done <- f()
		}()
		return <-done
	}
	msgget := func(flags int) (int, error) {
		id, _, errno := syscall.Syscall(syscall.SYS_MSGGET, key, uintptr(flags), 0)
		if errno != 0 {
			return -1, errno
		}
		return int(id), nil
	}
	if err := inPod(func() error { _, err := msgget(unix.IPC_CREAT | unix.IPC_EXCL | 0o600); return err }); err != nil {
		t.Fatalf("create a queue in the pod: %v", err)
	}
	if err := inPod(func() error { _, err := msgget(0); return err }); err != nil {
		t.Errorf("the queue, from another thread in the pod: %v", err)
	}
	if _, err := msgget(0); err == nil {
		t.Error("the pod's queue is visible outside the pod")
	}
}
