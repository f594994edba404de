package datapart

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestProbe(t *testing.T) {
	ext := make([]byte, 4096)
	ext[magicOffset], ext[magicOffset+1] = 0x53, 0xef
	junk := make([]byte, 4096)
	junk[3000] = 1
	tests := []struct {
		name string
		data []byte
		want State
	}{
		{"zeroed", make([]byte, 2<<20), Blank},
		{"empty device", nil, Blank},
		{"ext4 magic", ext, Ext4},
		{"one stray byte", junk, Foreign},
		{"fat boot sector", append([]byte{0xeb, 0x58, 0x90}, make([]byte, 509)...), Foreign},
	}
	for _, tt := range tests {
		got, err := Probe(bytes.NewReader(tt.data))
		if err != nil || got != tt.want {
			t.Errorf("%s: Probe = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

// TestProbeRealMkfs makes a real ext4 with the host's mke2fs and probes it.
func TestProbeRealMkfs(t *testing.T) {
	mkfs, err := exec.LookPath("mke2fs")
	if err != nil {
		t.Skip("mke2fs not installed")
	}
	img := filepath.Join(t.TempDir(), "data.img")
	if err := os.WriteFile(img, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(img)
	if s, _ := Probe(f); s != Blank {
		t.Fatalf("before mkfs: %v", s)
	}
	f.Close()
	if err := format(Options{Device: img, Label: "data", Mkfs: mkfs}); err != nil {
		t.Fatal(err)
	}
	f, _ = os.Open(img)
	defer f.Close()
	if s, _ := Probe(f); s != Ext4 {
		t.Fatalf("after mkfs: %v", s)
	}
}

func TestMountRefusesForeign(t *testing.T) {
	img := filepath.Join(t.TempDir(), "foreign.img")
	data := make([]byte, 1<<20)
	copy(data, "precious user data")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Mount(Options{Device: img, Target: t.TempDir(), Mkfs: "/bin/false"})
	if err == nil {
		t.Fatal("Mount formatted or mounted a foreign partition")
	}
	got, _ := os.ReadFile(img)
	if !bytes.Equal(got, data) {
		t.Fatal("foreign partition was modified")
	}
}
