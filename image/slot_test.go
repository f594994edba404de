package image

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/kmod"
	"github.com/edgegate/edgegate/init/rootfs"
)

// initramfsModules are the module files each board's initramfs may hold:
// what reaches the slot's root (disk, FAT, loop, dm-verity, erofs, the
// CPU's SHA-256) and their dependencies, nothing else.
var initramfsModules = map[string][]string{
	"qemu-arm64": {
		"virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_blk",
		"fat", "vfat", "nls_cp437", "nls_ascii", "loop",
		"reed_solomon", "dax", "dm-mod", "dm-bufio", "dm-verity",
		"crc32c_generic", "libcrc32c", "erofs", "sha256-arm64", "sha2-ce",
	},
	"qemu-armv7": {
		"virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_blk",
		"fat", "vfat", "nls_cp437", "nls_ascii", "loop",
		"reed_solomon", "dm-mod", "dm-bufio", "dm-verity",
		"crc32c_generic", "libcrc32c", "erofs", "sha256-arm",
	},
}

// TestSlot builds each board's image with the container runtime and
// edgecore and checks what its slot holds: the kernel, the initramfs and
// the root image, nothing else; an initramfs of its init, the root
// image's description and the modules that reach the root, nothing else;
// and a root image (read back by erofs-utils' fsck.erofs, verified by
// cryptsetup's veritysetup) with the userland, matching its description.
func TestSlot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds whole images")
	}
	for _, b := range boards.All() {
		t.Run(b.Name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "gw.img")
			res, err := Build(context.Background(), Options{Board: b, Version: "test", Output: img, Cache: testCache(t),
				Containerd: true, Edgecore: true})
			if err != nil {
				t.Fatal(err)
			}
			files, err := disk.ReadDir(img, 2)
			want := []string{b.KernelFile, InitrdFile, rootfs.ImageFile}
			sort.Strings(want)
			if err != nil || !slices.Equal(files, want) {
				t.Errorf("slot A holds %q (%v), want %q", files, err, want)
			}
			spec, early := checkInitramfs(t, b, img)
			root := extractRoot(t, img, spec, res.RootSize)
			checkRootTree(t, root, early)
		})
	}
}

// checkInitramfs checks the initramfs holds exactly its init, the build
// record, the root spec, and the board's listed modules with their load
// list, and returns the spec and the modules.
func checkInitramfs(t *testing.T, b boards.Board, img string) (rootfs.Spec, map[string]bool) {
	t.Helper()
	files := readInitramfs(t, img)
	mods := map[string]bool{}
	for p := range files {
		if strings.HasSuffix(p, ".ko") {
			mods[strings.TrimSuffix(path.Base(p), ".ko")] = true
			delete(files, p)
		}
	}
	var names []string
	for n := range mods {
		names = append(names, n)
	}
	wantMods := append([]string(nil), initramfsModules[b.Name]...)
	sort.Strings(names)
	sort.Strings(wantMods)
	if !slices.Equal(names, wantMods) {
		t.Errorf("initramfs modules %q, want %q", names, wantMods)
	}
	var rest []string
	for p := range files {
		rest = append(rest, p)
	}
	sort.Strings(rest)
	wantRest := []string{"etc/edgegate/build.json", "etc/edgegate/modules.list", "etc/edgegate/root.json", "init"}
	if !slices.Equal(rest, wantRest) {
		t.Errorf("initramfs files besides modules %q, want %q", rest, wantRest)
	}
	list, err := kmod.Parse(files[strings.TrimPrefix(kmod.ListPath, "/")])
	if err != nil || len(list) != len(wantMods) {
		t.Errorf("initramfs module list: %d entries (%v), want %d", len(list), err, len(wantMods))
	}
	var spec rootfs.Spec
	if err := json.Unmarshal(files[strings.TrimPrefix(rootfs.SpecPath, "/")], &spec); err != nil {
		t.Fatalf("root spec: %v", err)
	}
	if err := spec.Check(); err != nil {
		t.Error(err)
	}
	return spec, mods
}

// readInitramfs returns the regular files of slot A's initramfs by path.
func readInitramfs(t *testing.T, img string) map[string][]byte {
	t.Helper()
	raw, err := disk.ReadFile(img, 2, InitrdFile)
	if err != nil {
		t.Fatal(err)
	}
	rr := cpio.Newc.Reader(readerOf(t, raw))
	files := map[string][]byte{}
	for {
		rec, err := rr.ReadRecord()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("initramfs: %v", err)
		}
		if rec.Mode&cpio.S_IFMT != cpio.S_IFREG {
			continue
		}
		data, err := io.ReadAll(io.NewSectionReader(rec, 0, int64(rec.FileSize)))
		if err != nil {
			t.Fatal(err)
		}
		files[rec.Name] = data
	}
}

func readerOf(t *testing.T, initrd []byte) io.ReaderAt {
	t.Helper()
	raw, err := io.ReadAll(initramfs.Open(initrd))
	if err != nil {
		t.Fatalf("initramfs: %v", err)
	}
	return bytes.NewReader(raw)
}

// extractRoot checks slot A's root image against its spec (size, and the
// hash tree with veritysetup when it is installed) and extracts it with
// fsck.erofs, which checks every file's encoding on the way.
func extractRoot(t *testing.T, img string, spec rootfs.Spec, size int64) string {
	t.Helper()
	data, err := disk.ReadFile(img, 2, rootfs.ImageFile)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != spec.Size || spec.Size != size {
		t.Errorf("root image of %d bytes, the spec says %d, the build %d", len(data), spec.Size, size)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, rootfs.ImageFile)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if tool, err := exec.LookPath("veritysetup"); err == nil {
		out, err := exec.Command(tool, "verify", file, file, spec.Verity.RootHash,
			"--hash-offset", strconv.FormatInt(spec.Verity.HashOffset, 10)).CombinedOutput()
		if err != nil {
			t.Errorf("veritysetup verify: %v\n%s", err, out)
		}
	}
	tree := filepath.Join(dir, "tree")
	if out, err := exec.Command("fsck.erofs", "--extract="+tree, file).CombinedOutput(); err != nil {
		t.Fatalf("fsck.erofs: %v\n%s", err, out)
	}
	return tree
}

// checkRootTree checks the root holds the userland and the modules the
// initramfs did not load, and nothing of the initramfs's own.
func checkRootTree(t *testing.T, root string, early map[string]bool) {
	t.Helper()
	for _, p := range []string{"sbin/init", "usr/bin/edgegate-containerd", "usr/bin/runc", "usr/bin/edgecore",
		"sbin/e2fsck", "etc/edgegate/config.yaml", "etc/edgegate/build.json", "etc/os-release", "etc/kubeedge/config/edgecore.yaml"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("root image: %v", err)
		}
	}
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "var", "etc"} {
		if st, err := os.Stat(filepath.Join(root, d)); err != nil || !st.IsDir() {
			t.Errorf("root image: no mount point /%s (%v)", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "init")); err == nil {
		t.Error("root image holds the initramfs's /init")
	}
	raw, err := os.ReadFile(filepath.Join(root, kmod.ListPath))
	if err != nil {
		t.Fatal(err)
	}
	list, err := kmod.Parse(raw)
	if err != nil || len(list) < 10 {
		t.Fatalf("root module list: %d entries, %v", len(list), err)
	}
	for _, e := range list {
		name := strings.TrimSuffix(path.Base(e.Path), ".ko")
		if early[name] {
			t.Errorf("module %s is in the initramfs and the root image", name)
		}
		if _, err := os.Stat(filepath.Join(root, e.Path)); err != nil {
			t.Errorf("root module list: %v", err)
		}
	}
}
