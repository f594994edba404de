package moddep

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func names(infos []Info) []string {
	var ns []string
	for _, i := range infos {
		ns = append(ns, i.Name)
	}
	return ns
}

// ext4Tree mirrors the dependency shape of Debian 6.1's ext4 and vfat.
func ext4Tree() *Tree {
	return NewTree([]Info{
		{Name: "ext4", Depends: []string{"jbd2", "mbcache", "crc16"}, Pre: []string{"crypto-crc32c"}},
		{Name: "jbd2"},
		{Name: "mbcache"},
		{Name: "crc16"},
		{Name: "crc32c_generic", Aliases: []string{"crypto-crc32c", "crc32c"}},
		{Name: "crc32_arm_ce", Aliases: []string{"crypto-crc32c", "crc32c-*"}},
		{Name: "vfat", Depends: []string{"fat"}},
		{Name: "fat"},
		{Name: "virtio_net", Depends: []string{"net_failover"}},
		{Name: "net_failover", Depends: []string{"failover"}},
		{Name: "failover"},
		{Name: "loop_a", Depends: []string{"loop_b"}},
		{Name: "loop_b", Depends: []string{"loop_a"}},
		{Name: "post_user", Post: []string{"crc16"}},
		{Name: "needs_ghost", Depends: []string{"ghost"}},
	}, []string{"kernel/drivers/virtio/virtio.ko", "kernel/lib/crc-ccitt.ko"})
}

func TestResolve(t *testing.T) {
	tests := []struct {
		in      []string
		order   []string
		wantErr string
	}{
		{in: []string{"ext4"}, order: []string{"jbd2", "mbcache", "crc16", "crc32_arm_ce", "crc32c_generic", "ext4"}},
		{in: []string{"vfat", "ext4", "fat"}, order: []string{"fat", "vfat", "jbd2", "mbcache", "crc16", "crc32_arm_ce", "crc32c_generic", "ext4"}},
		{in: []string{"virtio-net"}, order: []string{"failover", "net_failover", "virtio_net"}},
		{in: []string{"virtio", "crc-ccitt"}, order: nil},
		{in: []string{"post_user"}, order: []string{"post_user", "crc16"}},
		{in: []string{"nosuch"}, wantErr: `module "nosuch": not in kernel modules`},
		{in: []string{"loop_a"}, wantErr: "module dependency cycle: loop_a -> loop_b -> loop_a"},
		{in: []string{"needs_ghost"}, wantErr: `module "ghost" needed by needs_ghost: not found`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			got, err := ext4Tree().Resolve(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve = %v, want error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(names(got), tt.order) {
				t.Fatalf("order = %v, want %v", names(got), tt.order)
			}
		})
	}
}

func TestResolveIsStable(t *testing.T) {
	first, _ := ext4Tree().Resolve([]string{"ext4", "vfat"})
	for i := 0; i < 20; i++ {
		again, _ := ext4Tree().Resolve([]string{"ext4", "vfat"})
		if !reflect.DeepEqual(names(first), names(again)) {
			t.Fatalf("run %d: %v, first %v", i, names(again), names(first))
		}
	}
}

func TestParseSoftdep(t *testing.T) {
	pre, post := parseSoftdep("pre: crc32c ccm post: zz")
	if !reflect.DeepEqual(pre, []string{"crc32c", "ccm"}) || !reflect.DeepEqual(post, []string{"zz"}) {
		t.Fatalf("pre=%v post=%v", pre, post)
	}
}

// TestScanRealELF compiles a module-shaped object with the host C compiler
// and reads its .modinfo back through Scan.
func TestScanRealELF(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "kernel", "fs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "m.c")
	code := `const char modinfo[] __attribute__((section(".modinfo"))) =
		"license=GPL\0depends=jbd2,mbcache\0softdep=pre: crc32c\0alias=fs-ext4\0name=ext4\0";`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-c", "-o", filepath.Join(dir, "ext4.ko"), src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(root, "modules.builtin"), []byte("kernel/fs/jbd2/jbd2.ko\nkernel/fs/mbcache.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tree.Resolve([]string{"ext4"})
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Name: "ext4", Path: "kernel/fs/ext4.ko", Depends: []string{"jbd2", "mbcache"}, Pre: []string{"crc32c"}, Aliases: []string{"fs-ext4"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("Resolve = %+v, want [%+v]", got, want)
	}
}

func TestScanRejectsNonELF(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "bad.ko"), []byte("not elf"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Scan(root); err == nil || !strings.Contains(err.Error(), "bad.ko") {
		t.Fatalf("Scan = %v, want an error naming bad.ko", err)
	}
}
