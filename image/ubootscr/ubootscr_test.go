package ubootscr

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const script = "echo hello\nload virtio 0:2 ${kernel_addr_r} Image\nbooti ${kernel_addr_r} - ${fdt_addr}\n"

// TestMatchesMkimage compares our bytes with U-Boot's own mkimage.
func TestMatchesMkimage(t *testing.T) {
	mkimage, err := exec.LookPath("mkimage")
	if err != nil {
		t.Skip("mkimage (u-boot-tools) not installed")
	}
	for _, tt := range []struct {
		arch    Arch
		mkArch  string
		content string
	}{{ARM64, "arm64", script}, {ARM, "arm", script + "x"}, {ARM, "arm", "e"}} {
		dir := t.TempDir()
		src := filepath.Join(dir, "boot.cmd")
		if err := os.WriteFile(src, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "boot.scr")
		cmd := exec.Command(mkimage, "-A", tt.mkArch, "-O", "linux", "-T", "script", "-C", "none", "-n", "edgegate", "-d", src, out)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1767225600")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mkimage: %v: %s", err, b)
		}
		want, _ := os.ReadFile(out)
		got, err := Encode(tt.content, tt.arch, "edgegate", 1767225600)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: Encode differs from mkimage\n got %x\nwant %x", tt.arch, got[:72], want[:72])
		}
	}
}

func TestRoundTripAndCorruption(t *testing.T) {
	b, err := Encode(script, ARM64, "edgegate", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || got != script {
		t.Fatalf("Decode = %q, %v", got, err)
	}
	tests := []struct {
		name    string
		mutate  func([]byte) []byte
		wantErr string
	}{
		{"short", func(b []byte) []byte { return b[:10] }, "too short"},
		{"magic", func(b []byte) []byte { b[0] ^= 1; return b }, "bad magic"},
		{"header", func(b []byte) []byte { b[40] ^= 1; return b }, "header checksum"},
		{"payload", func(b []byte) []byte { b[len(b)-2] ^= 1; return b }, "payload checksum"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }, "truncated"},
	}
	for _, tt := range tests {
		_, err := Decode(tt.mutate(append([]byte(nil), b...)))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: Decode = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	if _, err := Encode(script, "mips", "x", 0); err == nil {
		t.Error("unknown arch accepted")
	}
	if _, err := Encode(script, ARM, strings.Repeat("n", 32), 0); err == nil {
		t.Error("over-long name accepted")
	}
}
