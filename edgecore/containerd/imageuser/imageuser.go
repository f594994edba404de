// Package imageuser sets a container's user and supplementary groups from
// its image's /etc/passwd and /etc/group, with the semantics of
// containerd's oci.WithUser and oci.WithAdditionalGIDs (containerd v2.4).
//
// containerd's own options read the files through an in-process view of
// overlay mounts whose mount templates use text/template; a reachable
// template executor makes the Go linker keep every exported method of
// every type, which costs edgecore about 5 MiB. These options read the
// same files through a read-only temporary mount of the container's
// snapshot instead, as containerd did before that view existed.
package imageuser

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runc requires ids of at most MaxInt32, and containerd follows it.
const maxID = math.MaxInt32

// WithUser sets the process's uid and gid from userstr, an image's USER:
// a uid or a user name, optionally followed by ":" and a gid or a group
// name. A uid alone takes its primary group from /etc/passwd (0 when it
// is not listed), a name must be listed there, and "uid:gid" is taken as
// it is. The supplementary groups are reset to the primary group.
func WithUser(userstr string) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		defer ensurePrimaryGID(s)
		resetUser(s)
		parts := strings.Split(userstr, ":")
		switch len(parts) {
		case 1:
			uid, isID, err := parseID(parts[0])
			switch {
			case err != nil:
				return fmt.Errorf("invalid USER value %q: uid %w", userstr, err)
			case !isID:
				return withUsername(userstr)(ctx, client, c, s)
			}
			return withUserID(uid)(ctx, client, c, s)
		case 2:
			uid, uidIsID, err := parseID(parts[0])
			if err != nil {
				return fmt.Errorf("invalid USER value %q: uid %w", userstr, err)
			}
			gid, gidIsID, err := parseID(parts[1])
			if err != nil {
				return fmt.Errorf("invalid USER value %q: gid %w", userstr, err)
			}
			if uidIsID && gidIsID {
				s.Process.User.UID, s.Process.User.GID = uid, gid
				return nil
			}
			return withRootFS(ctx, client, c, s, func(root fs.FS) error {
				if !uidIsID {
					u, err := oci.UserFromFS(root, func(u user.User) bool { return u.Name == parts[0] })
					if err != nil {
						return err
					}
					uid = uint32(u.Uid)
				}
				if !gidIsID {
					if gid, err = oci.GIDFromFS(root, func(g user.Group) bool { return g.Name == parts[1] }); err != nil {
						return err
					}
				}
				s.Process.User.UID, s.Process.User.GID = uid, gid
				return nil
			})
		}
		return fmt.Errorf("invalid USER value %s", userstr)
	}
}

// parseID reads a numeric uid or gid; isID is false for a name.
func parseID(v string) (id uint32, isID bool, err error) {
	n, err := strconv.Atoi(v)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, false, errors.New("out of range")
	case err != nil:
		return 0, false, nil
	case n < 0 || n > maxID:
		return 0, false, errors.New("out of range")
	}
	return uint32(n), true, nil
}

// withUserID sets uid and its primary group from /etc/passwd; an absent
// file or entry gives gid 0.
func withUserID(uid uint32) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		defer ensurePrimaryGID(s)
		resetUser(s)
		return withRootFS(ctx, client, c, s, func(root fs.FS) error {
			u, err := oci.UserFromFS(root, func(u user.User) bool { return u.Uid == int(uid) })
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, oci.ErrNoUsersFound) {
				s.Process.User.UID, s.Process.User.GID = uid, 0
				return nil
			}
			if err != nil {
				return err
			}
			s.Process.User.UID, s.Process.User.GID = uint32(u.Uid), uint32(u.Gid)
			return nil
		})
	}
}

// withUsername sets the uid and gid /etc/passwd gives name; a name it
// does not list is an error.
func withUsername(name string) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		defer ensurePrimaryGID(s)
		resetUser(s)
		if s.Linux == nil {
			return errors.New("spec does not contain Linux or Windows section")
		}
		return withRootFS(ctx, client, c, s, func(root fs.FS) error {
			u, err := oci.UserFromFS(root, func(u user.User) bool { return u.Name == name })
			if err != nil {
				return err
			}
			s.Process.User.UID, s.Process.User.GID = uint32(u.Uid), uint32(u.Gid)
			return nil
		})
	}
}

// WithAdditionalGIDs sets the supplementary groups to those /etc/group
// lists userstr (a user name, or a uid looked up in /etc/passwd) as a
// member of, other than a group of the user's own name, plus the primary
// group. Without the files, or for a uid /etc/passwd does not list, only
// the primary group is set.
func WithAdditionalGIDs(userstr string) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		resetUser(s)
		return withRootFS(ctx, client, c, s, func(root fs.FS) error {
			defer ensurePrimaryGID(s)
			name := userstr
			if uid, err := strconv.Atoi(userstr); err == nil {
				u, err := oci.UserFromFS(root, func(u user.User) bool { return u.Uid == uid })
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, oci.ErrNoUsersFound) {
					return nil
				}
				if err != nil {
					return err
				}
				name = u.Name
			}
			gids, err := memberGIDs(root, name)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			s.Process.User.AdditionalGids = gids
			return nil
		})
	}
}

// memberGIDs returns the gids of the groups /etc/group lists name in,
// other than a group called name. oci.GIDFromFS opens the file as
// containerd does (a symbolic link resolved inside root, a size cap); its
// filter collects every match and accepts none.
func memberGIDs(root fs.FS, name string) ([]uint32, error) {
	gids := []uint32{}
	_, err := oci.GIDFromFS(root, func(g user.Group) bool {
		if g.Name != name && slices.Contains(g.List, name) {
			gids = append(gids, uint32(g.Gid))
		}
		return false
	})
	if err != nil && !errors.Is(err, oci.ErrNoGroupsFound) {
		return nil, err
	}
	return gids, nil
}

// withRootFS calls fn with the container's root filesystem: the spec's
// root path for a container without a snapshot, else a read-only
// temporary mount of its snapshot.
func withRootFS(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec, fn func(fs.FS) error) error {
	if c.Snapshotter == "" && c.SnapshotKey == "" {
		if s.Root == nil || !filepath.IsAbs(s.Root.Path) {
			return errors.New("rootfs absolute path is required")
		}
		return withOpenRoot(s.Root.Path, fn)
	}
	if c.Snapshotter == "" {
		return errors.New("no snapshotter set for container")
	}
	if c.SnapshotKey == "" {
		return errors.New("rootfs snapshot not created for container")
	}
	mounts, err := client.SnapshotService(c.Snapshotter).Mounts(ctx, c.SnapshotKey)
	if err != nil {
		return fmt.Errorf("mounts of snapshot %s: %w", c.SnapshotKey, err)
	}
	// Read-only: the kernel then has nothing to sync when it unmounts.
	return mount.WithReadonlyTempMount(ctx, mounts, func(dir string) error {
		return withOpenRoot(dir, fn)
	})
}

// withOpenRoot confines fn's file access to dir: an image's symbolic
// links cannot lead out of its root filesystem.
func withOpenRoot(dir string, fn func(fs.FS) error) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fn(root.FS())
}

func resetUser(s *oci.Spec) {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	s.Process.User.AdditionalGids = nil
}

// ensurePrimaryGID puts the primary group first among the supplementary
// groups unless it is there already, as containerd does.
func ensurePrimaryGID(s *oci.Spec) {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	u := &s.Process.User
	if !slices.Contains(u.AdditionalGids, u.GID) {
		u.AdditionalGids = append([]uint32{u.GID}, u.AdditionalGids...)
	}
}
