package imageuser

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"app:x:1000:1001::/home/app:/bin/sh\n" +
		"svc:x:1002:1002::/srv:/bin/sh\n"
	group = "root:x:0:root\n" +
		"wheel:x:10:root,app\n" +
		"app:x:1001:app\n" +
		"video:x:44:app,svc\n" +
		"svc:x:1002:\n"
)

// rootfs writes an image root with the given /etc files ("" leaves one out).
func rootfs(t *testing.T, passwdContent, groupContent string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"passwd": passwdContent, "group": groupContent} {
		if content == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// outcome is what an option leaves in the spec's user, or its failure.
type outcome struct {
	User   specs.User
	Failed bool
}

func run(t *testing.T, client oci.Client, c *containers.Container, root string, opts ...oci.SpecOpts) outcome {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "test")
	if root != "" {
		opts = append([]oci.SpecOpts{oci.WithRootFSPath(root)}, opts...)
	}
	s, err := oci.GenerateSpec(ctx, client, c, opts...)
	if err != nil {
		return outcome{Failed: true}
	}
	return outcome{User: s.Process.User}
}

// Every case gives what containerd's own options give on the same root.
func TestSameAsContainerd(t *testing.T) {
	full := rootfs(t, passwd, group)
	noGroup := rootfs(t, passwd, "")
	empty := rootfs(t, "", "")
	linked := rootfs(t, "", "")
	for name, content := range map[string]string{"passwd": passwd, "group": group} {
		dst := filepath.Join(linked, "usr", "lib", name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// An absolute link, resolved inside the image's root.
		if err := os.Symlink("/usr/lib/"+name, filepath.Join(linked, "etc", name)); err != nil {
			t.Fatal(err)
		}
	}
	roots := map[string]string{"full": full, "no /etc/group": noGroup, "no files": empty, "linked files": linked}
	users := []string{
		"0", "1000", "4242", "app", "svc", "nobody", "1000:44", "app:video", "app:44", "1000:video",
		"app:nogroup", "nobody:44", "-1", "2147483648", "99999999999999999999", "1:2:3", "",
		"1000:-1", "1000:2147483648",
	}
	for rootName, root := range roots {
		for _, u := range users {
			t.Run(rootName+"/user "+u, func(t *testing.T) {
				c := &containers.Container{ID: "c1"}
				got := run(t, nil, c, root, WithUser(u))
				want := run(t, nil, c, root, oci.WithUser(u))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("WithUser(%q) = %+v, containerd gives %+v", u, got, want)
				}
				got = run(t, nil, c, root, WithUser(u), WithAdditionalGIDs(u))
				want = run(t, nil, c, root, oci.WithUser(u), oci.WithAdditionalGIDs(u))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("WithUser+WithAdditionalGIDs(%q) = %+v, containerd gives %+v", u, got, want)
				}
			})
		}
	}
}

// The options read what they must, and fail where they must.
func TestUser(t *testing.T) {
	root := rootfs(t, passwd, group)
	tests := []struct {
		user string
		want outcome
	}{
		{"app", outcome{User: specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{1001, 10, 44}}}},
		{"1002", outcome{User: specs.User{UID: 1002, GID: 1002, AdditionalGids: []uint32{1002, 44}}}},
		{"4242", outcome{User: specs.User{UID: 4242, GID: 0, AdditionalGids: []uint32{0}}}},
		// A "uid:gid" USER is no user name /etc/group could list.
		{"1000:5", outcome{User: specs.User{UID: 1000, GID: 5, AdditionalGids: []uint32{5}}}},
		{"nobody", outcome{Failed: true}},
		{"app:nogroup", outcome{Failed: true}},
		{"2147483648", outcome{Failed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			got := run(t, nil, &containers.Container{ID: "c1"}, root, WithUser(tt.user), WithAdditionalGIDs(tt.user))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A container made from a snapshot is read through a read-only mount of
// the snapshot's mounts (a bind mount here; overlayfs on the gateway).
func TestSnapshotRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	root := rootfs(t, passwd, group)
	client := snapshotClient{"overlayfs": {"key-1": {{Type: "bind", Source: root, Options: []string{"rbind"}}}}}
	got := run(t, client, &containers.Container{ID: "c1", Snapshotter: "overlayfs", SnapshotKey: "key-1"}, "",
		WithUser("app"), WithAdditionalGIDs("app"))
	want := outcome{User: specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{1001, 10, 44}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, c := range []*containers.Container{
		{ID: "c2", Snapshotter: "overlayfs", SnapshotKey: "absent"},
		{ID: "c3", SnapshotKey: "key-1"},
		{ID: "c4", Snapshotter: "overlayfs"},
	} {
		if got := run(t, client, c, "", WithUser("app")); !got.Failed {
			t.Errorf("container %+v: got %+v, want a failure", c, got)
		}
	}
}

// snapshotClient serves Mounts from a table: snapshotter → key → mounts.
type snapshotClient map[string]map[string][]mount.Mount

func (c snapshotClient) SnapshotService(name string) snapshots.Snapshotter {
	return fakeSnapshotter(c[name])
}

type fakeSnapshotter map[string][]mount.Mount

func (f fakeSnapshotter) Mounts(_ context.Context, key string) ([]mount.Mount, error) {
	m, ok := f[key]
	if !ok {
		return nil, os.ErrNotExist
	}
	return m, nil
}

func (fakeSnapshotter) Stat(context.Context, string) (snapshots.Info, error) { panic("unused") }
func (fakeSnapshotter) Update(context.Context, snapshots.Info, ...string) (snapshots.Info, error) {
	panic("unused")
}
func (fakeSnapshotter) Usage(context.Context, string) (snapshots.Usage, error) { panic("unused") }
func (fakeSnapshotter) Prepare(context.Context, string, string, ...snapshots.Opt) ([]mount.Mount, error) {
	panic("unused")
}
func (fakeSnapshotter) View(context.Context, string, string, ...snapshots.Opt) ([]mount.Mount, error) {
	panic("unused")
}
func (fakeSnapshotter) Commit(context.Context, string, string, ...snapshots.Opt) error {
	panic("unused")
}
func (fakeSnapshotter) Remove(context.Context, string) error { panic("unused") }
func (fakeSnapshotter) Walk(context.Context, snapshots.WalkFunc, ...string) error {
	panic("unused")
}
func (fakeSnapshotter) Close() error { return nil }
