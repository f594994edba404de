package podnet

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsPrefix starts the name of every namespace file this package pins,
// so Pods can tell them from others in the same directory.
const netnsPrefix = "edgegate-"

// pinned reports whether path is a namespace pinned by a bind mount (a
// leftover plain file from an interrupted pin is not).
func pinned(path string) (bool, error) {
	var st unix.Statfs_t
	switch err := unix.Statfs(path, &st); {
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("netns %s: %w", path, err)
	}
	return st.Type == unix.NSFS_MAGIC, nil
}

// createNetNS makes a new network namespace and pins it at path. The
// namespace is made on a thread of its own that goes back to the process's
// namespace afterwards; a thread that cannot go back is never unlocked, so
// the Go runtime retires it instead of running other goroutines in the
// pod's namespace.
func createNetNS(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netns %s: remove leftover: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("netns %s: %w", path, err)
	}
	f.Close()
	done := make(chan error, 1)
	go func() { done <- pinNewNetNS(path) }()
	if err := <-done; err != nil {
		os.Remove(path)
		return fmt.Errorf("netns %s: %w", path, err)
	}
	return nil
}

// pinNewNetNS runs on a goroutine that may lose its thread.
func pinNewNetNS(path string) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current namespace: %w", err)
	}
	defer orig.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("unshare: %w", err)
	}
	pinErr := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, "")
	if err := netns.Set(orig); err != nil {
		// The thread stays locked and dies with this goroutine.
		return errors.Join(pinErr, fmt.Errorf("return to the original namespace: %w", err))
	}
	runtime.UnlockOSThread()
	if pinErr != nil {
		return fmt.Errorf("bind mount: %w", pinErr)
	}
	return nil
}

// removeNetNS unpins the namespace at path and removes the file; the
// namespace itself lives on while processes are in it. A missing pin or
// file is not an error: Teardown repeats.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil &&
		!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netns %s: unmount: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netns %s: %w", path, err)
	}
	return nil
}

// loopbackUp brings lo up in the namespace at path: the network list need
// not carry the loopback plugin for localhost to work in a pod.
func loopbackUp(path string) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("netns %s: %w", path, err)
	}
	defer ns.Close()
	// Route only: NewHandleAt opens every family by default, and a kernel
	// without xfrm (the boards') refuses the whole handle.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netns %s: netlink: %w", path, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netns %s: loopback: %w", path, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("netns %s: loopback up: %w", path, err)
	}
	return nil
}
