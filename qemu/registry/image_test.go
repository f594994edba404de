package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeBinaries stands in for per-platform builds: distinct bytes per
// platform are all the image code can tell apart.
func fakeBinaries() map[string][]byte {
	return map[string][]byte{
		"linux/amd64":  []byte("\x7fELF amd64 payload"),
		"linux/arm64":  []byte("\x7fELF arm64 payload"),
		"linux/arm/v7": []byte("\x7fELF armv7 payload"),
	}
}

func TestBuildImageDeterministic(t *testing.T) {
	cmd, env := []string{"serve", "--port", "8080"}, []string{"A=1"}
	base := BuildImage(fakeBinaries(), "/podapp", cmd, env)
	for i := range 5 { // map iteration order differs between runs
		again := BuildImage(fakeBinaries(), "/podapp", cmd, env)
		if again.Digest() != base.Digest() || !bytes.Equal(again.Index.Data, base.Index.Data) {
			t.Fatalf("build %d: index %s, first build gave %s", i, again.Digest(), base.Digest())
		}
	}

	otherBin := fakeBinaries()
	otherBin["linux/arm64"] = []byte("\x7fELF other arm64 payload")
	onlyTwo := fakeBinaries()
	delete(onlyTwo, "linux/amd64")
	variants := []struct {
		name string
		img  Image
	}{
		{"other binary", BuildImage(otherBin, "/podapp", cmd, env)},
		{"fewer platforms", BuildImage(onlyTwo, "/podapp", cmd, env)},
		{"other entry", BuildImage(fakeBinaries(), "/bin/podapp", cmd, env)},
		{"other cmd", BuildImage(fakeBinaries(), "/podapp", []string{"sleep", "1"}, env)},
		{"other env", BuildImage(fakeBinaries(), "/podapp", cmd, []string{"A=2"})},
	}
	for _, v := range variants {
		if v.img.Digest() == base.Digest() {
			t.Errorf("%s: same digest %s as the base image", v.name, base.Digest())
		}
	}
}

func TestBuildImageContent(t *testing.T) {
	bins := fakeBinaries()
	img := BuildImage(bins, "podapp", []string{"serve"}, []string{"APP=1"})

	var index ocispec.Index
	decode(t, img.Index, ocispec.MediaTypeImageIndex, &index)
	want := []ocispec.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
		{OS: "linux", Architecture: "arm64"},
	}
	if len(index.Manifests) != len(want) || len(img.Manifests) != len(want) {
		t.Fatalf("index lists %d manifests, image has %d, want %d", len(index.Manifests), len(img.Manifests), len(want))
	}
	for i, desc := range index.Manifests {
		pi := img.Manifests[i]
		t.Run(pi.Platform, func(t *testing.T) {
			if desc.Platform == nil || !reflect.DeepEqual(*desc.Platform, want[i]) {
				t.Errorf("index platform %+v, want %+v", desc.Platform, want[i])
			}
			checkDescriptor(t, desc, pi.Manifest)

			var m ocispec.Manifest
			decode(t, pi.Manifest, ocispec.MediaTypeImageManifest, &m)
			checkDescriptor(t, m.Config, pi.Config)
			if len(m.Layers) != 1 {
				t.Fatalf("manifest has %d layers, want 1", len(m.Layers))
			}
			checkDescriptor(t, m.Layers[0], pi.Layer)

			var cfg ocispec.Image
			decode(t, pi.Config, ocispec.MediaTypeImageConfig, &cfg)
			if !reflect.DeepEqual(cfg.Platform, want[i]) {
				t.Errorf("config platform %+v, want %+v", cfg.Platform, want[i])
			}
			if !slices.Equal(cfg.Config.Entrypoint, []string{"/podapp"}) || !slices.Equal(cfg.Config.Cmd, []string{"serve"}) {
				t.Errorf("entrypoint %q cmd %q, want [/podapp] [serve]", cfg.Config.Entrypoint, cfg.Config.Cmd)
			}
			if !slices.Equal(cfg.Config.Env, []string{defaultPath, "APP=1"}) {
				t.Errorf("env %q, want the default PATH and APP=1", cfg.Config.Env)
			}

			layer := gunzip(t, pi.Layer.Data)
			diffID := digest.FromBytes(layer)
			if pi.DiffID != diffID.String() || !slices.Equal(cfg.RootFS.DiffIDs, []digest.Digest{diffID}) {
				t.Errorf("diff ids: image %s, config %v; the layer is %s", pi.DiffID, cfg.RootFS.DiffIDs, diffID)
			}
			files := untar(t, layer)
			if got := files["podapp"]; got.mode != 0o755 || !bytes.Equal(got.data, bins[pi.Platform]) {
				t.Errorf("podapp in layer: mode %o, %q; want 0755 and this platform's binary", got.mode, got.data)
			}
			if got := files["tmp/"]; got.mode != 0o1777 {
				t.Errorf("tmp/ in layer: mode %o, want 1777", got.mode)
			}
		})
	}
}

func TestBuildImageKeepsGivenPath(t *testing.T) {
	img := BuildImage(map[string][]byte{"linux/arm64": []byte("x")}, "/bin/podapp", nil, []string{"PATH=/bin"})
	var cfg ocispec.Image
	decode(t, img.Manifests[0].Config, ocispec.MediaTypeImageConfig, &cfg)
	if !slices.Equal(cfg.Config.Env, []string{"PATH=/bin"}) {
		t.Errorf("env %q, want only the given PATH", cfg.Config.Env)
	}
	files := untar(t, gunzip(t, img.Manifests[0].Layer.Data))
	if files["bin/"].mode != 0o755 || string(files["bin/podapp"].data) != "x" {
		t.Errorf("layer %v, want bin/ (0755) holding podapp", files)
	}
}

func TestBuildImageRejectsBadPlatform(t *testing.T) {
	for _, p := range []string{"linux", "linux/", "/arm64", "linux/arm/v7/x", ""} {
		t.Run(p, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("platform %q accepted", p)
				}
			}()
			BuildImage(map[string][]byte{p: []byte("x")}, "/podapp", nil, nil)
		})
	}
}

// checkDescriptor checks that desc points at b.
func checkDescriptor(t *testing.T, desc ocispec.Descriptor, b Blob) {
	t.Helper()
	if desc.MediaType != b.MediaType || desc.Digest.String() != b.Digest || desc.Size != int64(len(b.Data)) {
		t.Errorf("descriptor %s %s %d, blob %s %s %d", desc.MediaType, desc.Digest, desc.Size, b.MediaType, b.Digest, len(b.Data))
	}
	if b.Digest != digest.FromBytes(b.Data).String() {
		t.Errorf("blob digest %s is not the digest of its data", b.Digest)
	}
}

func decode(t *testing.T, b Blob, mediaType string, v any) {
	t.Helper()
	if b.MediaType != mediaType {
		t.Fatalf("media type %q, want %q", b.MediaType, mediaType)
	}
	if err := json.Unmarshal(b.Data, v); err != nil {
		t.Fatalf("decoding %s: %v", mediaType, err)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type tarFile struct {
	mode int64
	data []byte
}

// untar reads the layer, checking that every entry is root-owned and
// dated at the epoch.
func untar(t *testing.T, b []byte) map[string]tarFile {
	t.Helper()
	files := map[string]tarFile{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: uid %d gid %d mtime %v, want root and the epoch", hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = tarFile{mode: hdr.Mode, data: data}
	}
}

func TestBuildSetuidImage(t *testing.T) {
	img := BuildSetuidImage(fakeBinaries(), "/podapp", nil, nil)
	if img.Digest() == BuildImage(fakeBinaries(), "/podapp", nil, nil).Digest() {
		t.Fatal("the setuid image has the plain image's digest")
	}
	for _, pi := range img.Manifests {
		if got := untar(t, gunzip(t, pi.Layer.Data))["podapp"]; got.mode != 0o4755 {
			t.Errorf("%s: podapp in layer: mode %o, want 4755", pi.Platform, got.mode)
		}
	}
}
