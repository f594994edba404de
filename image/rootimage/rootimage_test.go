package rootimage

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/rootfs"
)

const epoch = 1767225600

func tree(t *testing.T, extra string) *initramfs.Archive {
	t.Helper()
	a := initramfs.New()
	for _, f := range []struct {
		p    string
		data string
		mode os.FileMode
	}{
		{"sbin/init", "init binary" + extra, 0o755},
		{"etc/edgegate/config.yaml", "hostname: gw\n", 0o644},
		{"usr/bin/big", string(bytes.Repeat([]byte("compressible "), 100000)), 0o755},
	} {
		if err := a.File(f.p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Symlink("etc/kubeedge/ca", "/var/lib/kubeedge/ca"); err != nil {
		t.Fatal(err)
	}
	if err := a.Dir("proc", 0o555); err != nil {
		t.Fatal(err)
	}
	return a
}

func write(t *testing.T, a *initramfs.Archive) (string, rootfs.Spec) {
	t.Helper()
	if _, err := exec.LookPath("mkfs.erofs"); err != nil {
		t.Skip("mkfs.erofs not installed (erofs-utils; make deps installs it)")
	}
	out := filepath.Join(t.TempDir(), "root.img")
	spec, err := Write(context.Background(), Options{Tree: a, Output: out, Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	return out, spec
}

// TestWrite: the image holds the tree (as erofs-utils' fsck.erofs reads
// it back) with the build's time on every file, its hash tree checks out
// with cryptsetup's veritysetup, and the spec describes it.
func TestWrite(t *testing.T) {
	img, spec := write(t, tree(t, ""))
	st, err := os.Stat(img)
	if err != nil || st.Size() != spec.Size {
		t.Fatalf("image of %v bytes, spec says %d (%v)", st.Size(), spec.Size, err)
	}
	if spec.FSType != "erofs" || spec.File != rootfs.ImageFile || spec.Verity.HashOffset%4096 != 0 {
		t.Errorf("spec %+v", spec)
	}
	out := filepath.Join(t.TempDir(), "x")
	if msg, err := exec.Command("fsck.erofs", "--extract="+out, img).CombinedOutput(); err != nil {
		t.Fatalf("fsck.erofs: %v: %s", err, msg)
	}
	b, err := os.ReadFile(filepath.Join(out, "usr/bin/big"))
	if err != nil || len(b) != 13*100000 {
		t.Errorf("usr/bin/big: %d bytes, %v", len(b), err)
	}
	if st, err := os.Stat(filepath.Join(out, "sbin/init")); err != nil || st.Mode().Perm() != 0o755 || !st.ModTime().Equal(time.Unix(epoch, 0)) {
		t.Errorf("sbin/init: %v, %v; want 0755 at the epoch", st, err)
	}
	// init takes the root directory's time as the clock's floor (the
	// image's build time) on a board that boots at 1970.
	if st, err := os.Stat(out); err != nil || !st.ModTime().Equal(time.Unix(epoch, 0)) {
		t.Errorf("root directory: %v, %v; want its time at the epoch", st, err)
	}
	if l, err := os.Readlink(filepath.Join(out, "etc/kubeedge/ca")); err != nil || l != "/var/lib/kubeedge/ca" {
		t.Errorf("link: %q, %v", l, err)
	}
	if st.Size() > 400<<10 {
		t.Errorf("image of %d bytes for 1.3 MB of repetitive text: not compressed", st.Size())
	}
	if tool, err := exec.LookPath("veritysetup"); err == nil {
		msg, err := exec.Command(tool, "verify", img, img, spec.Verity.RootHash, "--hash-offset", strconv.FormatInt(spec.Verity.HashOffset, 10)).CombinedOutput()
		if err != nil {
			t.Errorf("veritysetup verify: %v: %s", err, msg)
		}
	}
}

// TestWriteReproducible: the same tree gives the same bytes, whatever
// SOURCE_DATE_EPOCH the builder's environment holds (mkfs.erofs reads
// it); another tree, another root hash.
func TestWriteReproducible(t *testing.T) {
	a, specA := write(t, tree(t, ""))
	t.Setenv("SOURCE_DATE_EPOCH", "1234567890")
	b, specB := write(t, tree(t, ""))
	_, specC := write(t, tree(t, " changed"))
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) || specA != specB {
		t.Errorf("two writes of one tree differ (root hash %s vs %s)", specA.Verity.RootHash, specB.Verity.RootHash)
	}
	if specC.Verity.RootHash == specA.Verity.RootHash {
		t.Errorf("a changed file left the root hash as it was")
	}
}

func TestMissingTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Write(context.Background(), Options{Tree: tree(t, ""), Output: filepath.Join(t.TempDir(), "r"), Epoch: epoch})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("install Debian's erofs-utils")) {
		t.Errorf("Write without mkfs.erofs: %v, want an error naming the package", err)
	}
}
