// Package podipc gives the containers of a pod one IPC namespace and one
// /dev/shm, as the kubelet's pod sandbox does: SysV IPC objects and POSIX
// shared memory one container makes, the others see; other pods see
// neither.
//
// There is no pause container to hold the namespace, so it is pinned, as
// podnet pins the pod's network namespace: made on a thread of its own and
// bind-mounted onto a file in the pod's run directory, which the
// containers' OCI specs join by path. /dev/shm is a tmpfs in the same
// directory, containerd CRI's sandbox shm: 64 MiB, mode 1777, noexec,
// nosuid, nodev, bind-mounted into every container. Both live in RAM for
// the pod's life on this boot; the volume manager's Teardown of the run
// directory unmounts them. The run directory must be where containerd's
// mount namespace receives mounts made after it started (see
// volume.Manager.RunRoot).
//
// A hostIPC pod needs neither: its containers join the host's namespace
// and get the host's /dev/shm.
package podipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// shmSize is containerd CRI's defaultShmSize.
const shmSize = 64 << 20

// Paths are a pod's IPC namespace and /dev/shm on the host.
type Paths struct {
	// Namespace is the IPC namespace's pin, for the OCI spec's path.
	Namespace string
	// Shm is the tmpfs the containers get at /dev/shm.
	Shm string
}

// For returns the paths Setup makes in dir.
func For(dir string) Paths {
	return Paths{Namespace: filepath.Join(dir, "ipc"), Shm: filepath.Join(dir, "shm")}
}

// Setup makes the pod's IPC namespace and /dev/shm in dir, the pod's run
// directory, unless they are there already (an edgecore restart finds
// them and the running containers keep sharing them).
func Setup(dir string) (Paths, error) {
	if !filepath.IsAbs(dir) {
		return Paths{}, fmt.Errorf("pod IPC: run directory %q is not an absolute path", dir)
	}
	p := For(dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return Paths{}, fmt.Errorf("pod IPC: %w", err)
	}
	if err := pinNamespace(p.Namespace); err != nil {
		return Paths{}, fmt.Errorf("pod IPC namespace %s: %w", p.Namespace, err)
	}
	if err := mountShm(p.Shm); err != nil {
		return Paths{}, fmt.Errorf("pod /dev/shm %s: %w", p.Shm, err)
	}
	return p, nil
}

// pinNamespace makes a new IPC namespace and pins it at path, unless path
// pins one already.
func pinNamespace(path string) error {
	var st unix.Statfs_t
	switch err := unix.Statfs(path, &st); {
	case err == nil && st.Type == unix.NSFS_MAGIC:
		return nil
	case err != nil && !errors.Is(err, unix.ENOENT):
		return err
	}
	// A plain file is a leftover of an interrupted pin.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove leftover: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	done := make(chan error, 1)
	go pinNewNamespace(path, done)
	if err := <-done; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// pinNewNamespace unshares the IPC namespace of a thread of its own and
// bind-mounts it at path. The thread is never unlocked: it ends with the
// goroutine instead of running others in the pod's namespace.
func pinNewNamespace(path string, done chan<- error) {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
		done <- fmt.Errorf("unshare: %w", err)
		return
	}
	if err := unix.Mount("/proc/thread-self/ns/ipc", path, "", unix.MS_BIND, ""); err != nil {
		done <- fmt.Errorf("bind mount: %w", err)
		return
	}
	done <- nil
}

// mountShm mounts the pod's shm tmpfs at dir unless something is mounted
// there already.
func mountShm(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var st, parent unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	if err := unix.Stat(filepath.Dir(dir), &parent); err != nil {
		return err
	}
	if st.Dev != parent.Dev {
		return nil
	}
	opts := fmt.Sprintf("mode=1777,size=%d", shmSize)
	if err := unix.Mount("shm", dir, "tmpfs", unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs (%s): %w", opts, err)
	}
	return nil
}
