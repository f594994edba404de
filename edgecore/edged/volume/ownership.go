package volume

import (
	"fmt"
	"os"
	"syscall"

	v1 "k8s.io/api/core/v1"
)

// kubelet's fsGroup semantics (SetVolumeOwnership): everything in an
// emptyDir, configMap, secret, downwardAPI or projected volume gets the
// pod's fsGroup as its group, files gain group read (and write, for writable
// volumes) and directories also group search plus setgid, so that files
// containers create inherit the group. Here the modes are computed before
// writing rather than patched afterwards, so that comparing what is on disk
// with what should be there stays exact.
const (
	groupRW   os.FileMode = 0o660
	groupRO   os.FileMode = 0o440
	groupExec os.FileMode = 0o110
)

// fsGroup returns the pod's fsGroup, nil when it has none.
func fsGroup(pod *v1.Pod) *int64 {
	if pod.Spec.SecurityContext == nil {
		return nil
	}
	return pod.Spec.SecurityContext.FSGroup
}

// fileMode is the mode a volume file ends up with.
func fileMode(mode os.FileMode, gid *int64, readOnly bool) os.FileMode {
	if gid == nil {
		return mode
	}
	if readOnly {
		return mode | groupRO
	}
	return mode | groupRW
}

// dirMode is the mode a volume directory ends up with.
func dirMode(mode os.FileMode, gid *int64, readOnly bool) os.FileMode {
	if gid == nil {
		return mode
	}
	return fileMode(mode, gid, readOnly) | groupExec | os.ModeSetgid
}

// chownGroup gives path (not following a symlink) the group gid, if set and
// not already its group.
func chownGroup(path string, gid *int64) error {
	if gid == nil {
		return nil
	}
	info, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int64(st.Gid) == *gid {
		return nil
	}
	if err := os.Lchown(path, -1, int(*gid)); err != nil {
		return fmt.Errorf("set group of %s to fsGroup %d: %w", path, *gid, err)
	}
	return nil
}

// chownUser gives path (not following a symlink) the owner uid, if set.
// It runs before the final chmod: a chown clears setuid and setgid bits.
func chownUser(path string, uid *int64) error {
	if uid == nil {
		return nil
	}
	if err := os.Lchown(path, int(*uid), -1); err != nil {
		return fmt.Errorf("set owner of %s to %d: %w", path, *uid, err)
	}
	return nil
}

// hasOwner tells whether info's owner is uid, or without one the writer.
func hasOwner(info os.FileInfo, uid *int64) bool {
	want := int64(os.Geteuid())
	if uid != nil {
		want = *uid
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int64(st.Uid) == want
}

// hasGroup tells whether info's group is gid (always true without fsGroup).
func hasGroup(info os.FileInfo, gid *int64) bool {
	if gid == nil {
		return true
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int64(st.Gid) == *gid
}
