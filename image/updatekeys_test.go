package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/buildinfo"
)

func publicKeyFile(t *testing.T, seed byte) ([]byte, bundle.PrivateKey) {
	t.Helper()
	k, err := bundle.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.Public().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return pub, k
}

// TestUpdateKeysFile: the trusted keys file holds each key once, in key
// ID order whatever the order given, and refuses what is not one public
// key.
func TestUpdateKeysFile(t *testing.T) {
	a, ka := publicKeyFile(t, 1)
	b, kb := publicKeyFile(t, 2)
	one, ids, err := UpdateKeysFile([][]byte{a, b, a})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := UpdateKeysFile([][]byte{b, a})
	if err != nil || !bytes.Equal(one, other) {
		t.Fatalf("the file depends on the keys' order (%v)", err)
	}
	want := []string{ka.ID.String(), kb.ID.String()}
	slices.Sort(want)
	ring, err := bundle.ParseKeyRing(one)
	if err != nil || !slices.Equal(ids, want) || !slices.Equal(ring.IDs(), want) {
		t.Fatalf("ids %v, ring %v (%v), want %v", ids, ring.IDs(), err, want)
	}
	priv, err := ka.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{"private key": priv, "two keys in one file": append(bytes.Clone(a), b...), "empty": nil} {
		if _, _, err := UpdateKeysFile([][]byte{a, bad}); err == nil || !strings.Contains(err.Error(), "update key 2") {
			t.Errorf("%s: %v, want an error naming update key 2", name, err)
		}
	}
}

// TestBuildUpdateKeysAndBuildNumber builds an image with two update keys
// and no build number: the root image carries the keys file, and both
// build records the epoch as the build number.
func TestBuildUpdateKeysAndBuildNumber(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a whole image")
	}
	b := boards.QEMUArm64()
	a, _ := publicKeyFile(t, 1)
	c, _ := publicKeyFile(t, 2)
	img := filepath.Join(t.TempDir(), "gw.img")
	res, err := Build(context.Background(), Options{Board: b, Version: "test", Output: img, Cache: testCache(t), UpdateKeys: [][]byte{c, a}})
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := checkInitramfs(t, b, img)
	initrdInfo, err := buildinfo.Parse(readInitramfs(t, img)["etc/edgegate/build.json"])
	if err != nil || initrdInfo.Build != DefaultEpoch {
		t.Fatalf("initramfs build record %+v (%v), want build %d", initrdInfo, err, DefaultEpoch)
	}
	root := extractRoot(t, img, spec, res.RootSize)
	rootInfo, err := buildinfo.Read(filepath.Join(root, buildinfo.Path))
	if err != nil || rootInfo != initrdInfo {
		t.Fatalf("root build record %+v (%v), want %+v", rootInfo, err, initrdInfo)
	}
	keys, err := os.ReadFile(filepath.Join(root, bundle.TrustedKeysPath))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := UpdateKeysFile([][]byte{a, c})
	if err != nil || !bytes.Equal(keys, want) {
		t.Fatalf("root image's %s:\n%s\nwant:\n%s", bundle.TrustedKeysPath, keys, want)
	}
}
