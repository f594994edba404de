package verity

import (
	"bytes"
	"encoding/hex"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// image returns blocks of pseudo-random data followed by its hash tree.
func image(t *testing.T, blocks int64, salt []byte) ([]byte, Params) {
	t.Helper()
	data := make([]byte, blocks*BlockSize)
	rand.New(rand.NewSource(blocks)).Read(data)
	var tree bytes.Buffer
	p, err := Append(&tree, bytes.NewReader(data), int64(len(data)), salt)
	if err != nil {
		t.Fatal(err)
	}
	return append(data, tree.Bytes()...), p
}

// TestVeritysetupAgrees checks images against cryptsetup's veritysetup,
// an independent implementation of the format: it accepts the tree with
// our root hash, reads our superblock, and refuses a flipped byte.
func TestVeritysetupAgrees(t *testing.T) {
	tool, err := exec.LookPath("veritysetup")
	if err != nil {
		t.Skip("veritysetup not installed (cryptsetup-bin; make deps installs it)")
	}
	salt, _ := hex.DecodeString("5a17")
	tests := []struct {
		name   string
		blocks int64
	}{
		{"one block: no tree, the root is the block's hash", 1},
		{"one hash block", 128},
		{"two levels", 129},
		{"three levels", 128*128 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, p := image(t, tt.blocks, salt)
			f := filepath.Join(t.TempDir(), "root.img")
			if err := os.WriteFile(f, img, 0o644); err != nil {
				t.Fatal(err)
			}
			root := hex.EncodeToString(p.RootHash)
			verify := func() ([]byte, error) {
				return exec.Command(tool, "verify", f, f, root, "--hash-offset", itoa(p.HashOffset)).CombinedOutput()
			}
			if out, err := verify(); err != nil {
				t.Fatalf("veritysetup verify: %v\n%s", err, out)
			}
			dump, err := exec.Command(tool, "dump", f, "--hash-offset", itoa(p.HashOffset)).CombinedOutput()
			if err != nil {
				t.Fatalf("veritysetup dump: %v\n%s", err, dump)
			}
			fields := dumpFields(string(dump))
			for k, want := range map[string]string{"Data blocks": itoa(tt.blocks), "Hash algorithm": "sha256", "Salt": "5a17", "Hash type": "1"} {
				if fields[k] != want {
					t.Errorf("veritysetup dump: %s %q, want %q:\n%s", k, fields[k], want, dump)
				}
			}
			img[len(img)/3] ^= 0x01
			if err := os.WriteFile(f, img, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := verify(); err == nil {
				t.Errorf("veritysetup verify accepted a flipped byte at %d:\n%s", len(img)/3, out)
			}
		})
	}
}

// TestLayout: the tree's size and where it starts, as dm-verity computes
// them.
func TestLayout(t *testing.T) {
	tests := []struct {
		blocks    int64
		treeBytes int64 // superblock block + hash blocks
	}{
		{1, BlockSize},
		{2, 2 * BlockSize},
		{128, 2 * BlockSize},
		{129, 4 * BlockSize},
		{128 * 128, 1*BlockSize + 129*BlockSize},
	}
	for _, tt := range tests {
		img, p := image(t, tt.blocks, nil)
		if got := int64(len(img)) - tt.blocks*BlockSize; got != tt.treeBytes {
			t.Errorf("%d blocks: tree of %d bytes, want %d", tt.blocks, got, tt.treeBytes)
		}
		if p.HashStartBlock() != tt.blocks+1 {
			t.Errorf("%d blocks: hash start block %d, want %d", tt.blocks, p.HashStartBlock(), tt.blocks+1)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, tt := range []struct {
		size int64
		salt int
		want string
	}{
		{0, 0, "not a positive multiple"},
		{4095, 0, "not a positive multiple"},
		{BlockSize, 257, "salt of 257 bytes"},
	} {
		_, err := Append(&bytes.Buffer{}, bytes.NewReader(make([]byte, tt.size)), tt.size, make([]byte, tt.salt))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("size %d salt %d: %v, want %q", tt.size, tt.salt, err, tt.want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// dumpFields reads veritysetup dump's "Key:  value" lines.
func dumpFields(dump string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(dump, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}
