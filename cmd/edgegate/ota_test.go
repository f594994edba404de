package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/buildinfo"
)

// smallImage writes a disk laid out as edgegate's (boot, slot A, slot B,
// data) whose slot A holds only an initramfs with the build record: what
// `ota bundle` reads, in a second rather than a build's minute.
func smallImage(t *testing.T, info buildinfo.Info) (string, disk.Spec) {
	t.Helper()
	rec, err := info.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	arc := initramfs.New()
	if err := arc.File(strings.TrimPrefix(buildinfo.Path, "/"), rec, 0o644); err != nil {
		t.Fatal(err)
	}
	var initrd bytes.Buffer
	if _, err := arc.WriteLZ4(&initrd); err != nil {
		t.Fatal(err)
	}
	spec := disk.Spec{Epoch: 1767225600, Partitions: []disk.Partition{
		{SizeMiB: 33, Type: disk.TypeFAT32LBA, FAT: &disk.FAT{Label: "EDGEBOOT", Files: map[string][]byte{"boot.cmd": []byte("# none\n")}}},
		{SizeMiB: 33, Type: disk.TypeFAT32LBA, FAT: &disk.FAT{Label: "SLOT_A", Files: map[string][]byte{"initrd": initrd.Bytes(), "Image": []byte("kernel")}}},
		{SizeMiB: 33, Type: disk.TypeFAT32LBA},
		{SizeMiB: 16, Type: disk.TypeLinux},
	}}
	img := filepath.Join(t.TempDir(), "gw.img")
	if err := disk.Write(img, spec); err != nil {
		t.Fatal(err)
	}
	return img, spec
}

func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// TestOTAKeygenBundle: a key pair from keygen, a bundle of a built image's
// slot A signed with it, and the bundle verified and read back by the
// device's reader with the public key as the image would carry it.
func TestOTAKeygenBundle(t *testing.T) {
	bin := edgegateBin(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "release")
	out, err := run(t, bin, "ota", "keygen", "-o", key)
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	for file, mode := range map[string]os.FileMode{key + ".key": 0o600, key + ".pub": 0o644} {
		st, err := os.Stat(file)
		if err != nil || st.Mode().Perm() != mode {
			t.Fatalf("%s: %v, mode %v, want %v", file, err, st.Mode().Perm(), mode)
		}
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, err := bundle.ParsePublicKey(pub)
	if err != nil || !strings.Contains(out, "key id "+pk.ID.String()) || !strings.Contains(string(pub), pk.ID.String()) {
		t.Fatalf("keygen said %q, public key %v: want the key id %s in both", out, err, pk.ID)
	}
	if out, err := run(t, bin, "ota", "keygen", "-o", key); err == nil || !strings.Contains(out, "exists") {
		t.Fatalf("keygen over an existing key: %v\n%s", err, out)
	}

	img, spec := smallImage(t, buildinfo.Info{Version: "v7", Build: 1234, Board: "qemu-arm64", Disk: "vda"})
	bundleFile := filepath.Join(dir, "v7.bundle")
	out, err = run(t, bin, "ota", "bundle", "--board", "qemu-arm64", "--key", key+".key", "--image", img, "-o", bundleFile, "--min-build", "1000")
	if err != nil {
		t.Fatalf("bundle: %v\n%s", err, out)
	}
	t.Log(out)
	if st, err := os.Stat(bundleFile); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("bundle file: %v, mode %v, want 0644", err, st.Mode().Perm())
	}

	ring, err := bundle.ReadKeyRing(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(bundleFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := bundle.Open(f, bundle.Policy{Board: "qemu-arm64", Build: 1000, Keys: ring})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the slot image: %v", err)
	}
	// The bundle holds slot A up to its last MiB with data: the rest is
	// free FAT clusters, zeros.
	slotA := partition(t, img, spec, 2)
	if len(got)%(1<<20) != 0 || len(got) > len(slotA) || len(got) == 0 ||
		bytes.Count(slotA[len(got):], []byte{0}) != len(slotA)-len(got) ||
		bytes.Count(got[len(got)-1<<20:], []byte{0}) == 1<<20 {
		t.Fatalf("bundle holds %d bytes of slot A's %d: want it to end with the last MiB that holds data", len(got), len(slotA))
	}
	want := slotA[:len(got)]
	sum := sha256.Sum256(want)
	m := r.Manifest()
	if !bytes.Equal(got, want) || m.Version != "v7" || m.Build != 1234 || m.MinBuild != 1000 || m.ImageSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("bundle holds %d bytes (slot A: %d, equal %v), manifest %+v", len(got), len(want), bytes.Equal(got, want), m)
	}

	// The same bundle on a gateway with another key, or further along.
	other, err := bundle.GenerateKey(bytes.NewReader(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		policy bundle.Policy
		want   error
	}{
		{bundle.Policy{Board: "qemu-arm64", Build: 1000, Keys: bundle.NewKeyRing(other.Public())}, bundle.ErrUnknownKey},
		{bundle.Policy{Board: "qemu-arm64", Build: 2000, Keys: ring}, bundle.ErrOlderBuild},
		{bundle.Policy{Board: "qemu-arm64", Build: 999, Keys: ring}, bundle.ErrBelowMinimum},
		{bundle.Policy{Board: "qemu-armv7", Build: 1000, Keys: ring}, bundle.ErrOtherBoard},
	} {
		data, err := os.ReadFile(bundleFile)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.Open(bytes.NewReader(data), tt.policy); !errors.Is(err, tt.want) {
			t.Errorf("Open with %+v = %v, want %v", tt.policy, err, tt.want)
		}
	}
}

// partition returns partition n of an image.
func partition(t *testing.T, img string, spec disk.Spec, n int) []byte {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, int64(spec.Partitions[n-1].SizeMiB)*disk.MiB)
	if _, err := f.ReadAt(b, spec.Start(n)); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOTABadInvocations: each mistake is refused, named, and leaves no
// bundle.
func TestOTABadInvocations(t *testing.T) {
	bin := edgegateBin(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if out, err := run(t, bin, "ota", "keygen", "-o", key); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	img, _ := smallImage(t, buildinfo.Info{Version: "v7", Build: 1234, Board: "qemu-arm64", Disk: "vda"})
	noBuild, _ := smallImage(t, buildinfo.Info{Version: "v6", Board: "qemu-arm64", Disk: "vda"})
	out := filepath.Join(dir, "x.bundle")
	bundleArgs := func(extra ...string) []string {
		return append([]string{"ota", "bundle", "-o", out}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"ota"}, "usage: edgegate ota keygen|bundle|push|pull|status"},
		{"unknown subcommand", []string{"ota", "frob"}, "usage: edgegate ota keygen|bundle|push|pull|status"},
		{"keygen without a name", []string{"ota", "keygen"}, "-o NAME"},
		{"keygen into a missing directory", []string{"ota", "keygen", "-o", filepath.Join(dir, "none", "k")}, "no such file or directory"},
		{"bundle without a key", bundleArgs("--board", "qemu-arm64", "--image", img), "--key is required"},
		{"bundle with the public key", bundleArgs("--board", "qemu-arm64", "--image", img, "--key", key+".pub"), "no PRIVATE KEY PEM block"},
		{"bundle for another board", bundleArgs("--board", "qemu-armv7", "--image", img, "--key", key+".key"), "built for qemu-arm64, not --board qemu-armv7"},
		{"bundle for an unknown board", bundleArgs("--board", "rpi9", "--image", img, "--key", key+".key"), `unknown board "rpi9"`},
		{"bundle of an image without a build number", bundleArgs("--board", "qemu-arm64", "--image", noBuild, "--key", key+".key"), "no build number"},
		{"bundle of a missing image", bundleArgs("--board", "qemu-arm64", "--image", filepath.Join(dir, "none.img"), "--key", key+".key"), "none.img"},
		{"build with a private key as update key", []string{"build", "-o", filepath.Join(dir, "gw.img"), "--ota-key", key + ".key"}, "--ota-key " + key + ".key: a PRIVATE KEY PEM block, want PUBLIC KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := run(t, bin, tt.args...)
			if err == nil || !strings.Contains(got, tt.want) {
				t.Fatalf("edgegate %v: %v\n%s\nwant it to mention %q", tt.args, err, got, tt.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("%s exists after a failure", out)
			}
		})
	}
}
