package main

import (
	"bytes"
	"compress/gzip"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/image/flash"
)

// flashImage is a 3 MiB disk image (random bytes, then zeros) written
// gzip-compressed, as a release would ship it.
func flashImage(t *testing.T, dir string) (path string, img []byte) {
	img = make([]byte, 3<<20)
	mrand.NewChaCha8([32]byte{9}).Read(img[:2<<20])
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(img)
	w.Close()
	path = filepath.Join(dir, "gw.img.gz")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, img
}

// TestFlashCommand: edgegate flash writes a compressed image to a file
// and to a loop device, printing the verified sha256 and progress on
// stderr; mistakes exit non-zero naming the problem.
func TestFlashCommand(t *testing.T) {
	bin := edgegateBin(t)
	dir := t.TempDir()
	image, img := flashImage(t, dir)
	targets := map[string]string{"file": filepath.Join(dir, "card.img")}
	if dev, backing, ok := loopDevice(t, 4<<20); ok {
		targets["loop device"] = dev
		t.Cleanup(func() {
			if b, _ := os.ReadFile(backing); !bytes.Equal(b[:len(img)], img) {
				t.Error("the loop device's file does not hold the image")
			}
		})
	}
	for name, dev := range targets {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, "flash", "--device", dev, image)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("flash: %v\n%s%s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), " verified") || !strings.Contains(stderr.String(), "writing 100%") || !strings.Contains(stderr.String(), "verifying 100%") {
				t.Errorf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
		})
	}
	if got, _ := os.ReadFile(targets["file"]); !bytes.Equal(got, img) {
		t.Error("the file does not hold the image")
	}
	big := filepath.Join(dir, "big.img")
	if err := os.WriteFile(big, make([]byte, 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"flash", image}, "usage: edgegate flash --device DEV IMAGE"},
		{[]string{"flash", "--device", filepath.Join(dir, "x.img")}, "usage: edgegate flash --device DEV IMAGE"},
		{[]string{"flash", "--device", filepath.Join(dir, "x.img"), filepath.Join(dir, "none.img")}, "none.img: no such file"},
	}
	if dev, ok := targets["loop device"]; ok {
		bad = append(bad, struct {
			args []string
			want string
		}{[]string{"flash", "--device", dev, big}, "image larger than the device: the image is 5.0 MiB"})
	}
	for _, tt := range bad {
		out, err := run(t, bin, tt.args...)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("edgegate %v: %v\n%s\nwant it to mention %q", tt.args, err, out, tt.want)
		}
	}
	t.Run("permission", func(t *testing.T) { permissionNamed(t, bin) })
}

// permissionNamed: a user who may not write the target is told so, with
// the target named.
func permissionNamed(t *testing.T, bin string) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the command as another user")
	}
	dir := t.TempDir()
	image, _ := flashImage(t, dir)
	card := filepath.Join(dir, "card.img")
	if err := os.WriteFile(card, []byte("keep"), 0o444); err != nil {
		t.Fatal(err)
	}
	// nobody must reach the binary and the image.
	for p := dir; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	os.Chmod(filepath.Dir(bin), 0o755)
	os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	cmd := exec.Command(bin, "flash", "--device", card, image)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	want := "permission denied: " + card + " cannot be opened for writing"
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("flash as nobody: %v\n%s\nwant it to mention %q", err, out, want)
	}
	if b, _ := os.ReadFile(card); string(b) != "keep" {
		t.Errorf("the target changed: %q", b)
	}
}

// loopDevice attaches a loop device to a new file of size bytes, or
// reports false (with the reason logged) where there are none.
func loopDevice(t *testing.T, size int64) (dev, backing string, ok bool) {
	if _, err := os.Stat("/dev/loop-control"); err != nil || os.Geteuid() != 0 {
		t.Log("no loop devices here (no /dev/loop-control, or not root): loop device target not tested")
		return "", "", false
	}
	backing = filepath.Join(t.TempDir(), "backing")
	if err := os.WriteFile(backing, bytes.Repeat([]byte{0xa5}, int(size)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", backing).CombinedOutput()
	if err != nil {
		t.Logf("losetup: %v: %s: loop device target not tested", err, out)
		return "", "", false
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev, backing, true
}

// TestPhaseProgress: one bar per phase, labelled, with the time left.
func TestPhaseProgress(t *testing.T) {
	now := time.Unix(0, 0)
	var out bytes.Buffer
	p := phaseProgress(&out, false, func() time.Time { return now })
	for _, ph := range []flash.Phase{flash.PhaseWrite, flash.PhaseVerify} {
		for done := int64(0); done <= 100<<20; done += 25 << 20 {
			p(ph, done, 100<<20)
			now = now.Add(time.Second)
		}
	}
	for _, want := range []string{
		"writing  50%  50.0/100.0 MiB  25.0 MiB/s  0:02 left\n",
		"writing 100%  100.0/100.0 MiB  25.0 MiB/s\n",
		"verifying  25%  25.0/100.0 MiB  25.0 MiB/s  0:03 left\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress:\n%s\nwant a line %q", out.String(), want)
		}
	}
	out.Reset()
	p = phaseProgress(&out, true, func() time.Time { return now })
	p(flash.PhaseWrite, 0, 100<<20)
	now = now.Add(2 * time.Second)
	p(flash.PhaseWrite, 50<<20, 100<<20)
	if want := "\rwriting       [===============               ]  50%  50.0/100.0 MiB  25.0 MiB/s  0:02 left"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("terminal progress %q, want it to end %q", out.String(), want)
	}
}
