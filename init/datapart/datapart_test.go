package datapart

import (
	"bytes"
	"os"
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
