package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// defaultPath is the PATH an image gets when its env names none, the one
// container runtimes conventionally assume.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Blob is one piece of content of an image, addressed by its digest.
type Blob struct {
	MediaType string
	Digest    string // "sha256:<hex>" of Data
	Data      []byte
}

func newBlob(mediaType string, data []byte) Blob {
	return Blob{MediaType: mediaType, Digest: digest.FromBytes(data).String(), Data: data}
}

// Descriptor is the OCI content descriptor that points at b.
func (b Blob) Descriptor() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: b.MediaType, Digest: digest.Digest(b.Digest), Size: int64(len(b.Data))}
}

// PlatformImage is the single-platform image of one platform of an Image.
type PlatformImage struct {
	Platform string // as given to BuildImage, e.g. "linux/arm/v7"
	Manifest Blob
	Config   Blob
	Layer    Blob   // the gzip-compressed layer
	DiffID   string // digest of the uncompressed layer tar
}

// Image is a multi-arch OCI image: an index over one image per platform.
type Image struct {
	Index     Blob
	Manifests []PlatformImage // in the order of the index: sorted by platform
}

// Digest is the digest of the image index, which a tag points at.
func (i Image) Digest() string { return i.Index.Digest }

// BuildImage makes a multi-arch image holding, per platform, the static
// binary given for it at entry (mode 0755, root-owned) plus an empty /tmp,
// with entry as the entrypoint, cmd as the default arguments and env as
// the environment (a conventional PATH is added unless env sets one).
// Platforms are "os/arch" or "os/arch/variant", e.g. "linux/arm/v7".
//
// The bytes depend on the inputs only (no timestamps, sorted platforms),
// so the same inputs give the same digests. BuildImage panics on a
// malformed platform: platforms are literals in test code.
func BuildImage(platforms map[string][]byte, entry string, cmd []string, env []string) Image {
	return buildImage(platforms, entry, 0o755, cmd, env)
}

// BuildSetuidImage is BuildImage with the entry set-user-ID root (mode
// 04755): a container started as another user runs it as root, where
// set-user-ID programs work.
func BuildSetuidImage(platforms map[string][]byte, entry string, cmd []string, env []string) Image {
	return buildImage(platforms, entry, 0o4755, cmd, env)
}

func buildImage(platforms map[string][]byte, entry string, mode int64, cmd []string, env []string) Image {
	entry = path.Clean("/" + entry)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		env = append([]string{defaultPath}, env...)
	}
	var img Image
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for _, name := range slices.Sorted(maps.Keys(platforms)) {
		plat := parsePlatform(name)
		pi := buildPlatformImage(plat, platforms[name], entry, mode, cmd, env)
		pi.Platform = name
		desc := pi.Manifest.Descriptor()
		desc.Platform = &plat
		index.Manifests = append(index.Manifests, desc)
		img.Manifests = append(img.Manifests, pi)
	}
	img.Index = newBlob(ocispec.MediaTypeImageIndex, mustJSON(index))
	return img
}

func buildPlatformImage(plat ocispec.Platform, bin []byte, entry string, mode int64, cmd, env []string) PlatformImage {
	layerTar := layerTar(entry, bin, mode)
	pi := PlatformImage{
		Layer:  newBlob(ocispec.MediaTypeImageLayerGzip, gzipBytes(layerTar)),
		DiffID: digest.FromBytes(layerTar).String(),
	}
	config := ocispec.Image{
		Platform: plat,
		Config: ocispec.ImageConfig{
			Entrypoint: []string{entry},
			Cmd:        cmd,
			Env:        env,
			WorkingDir: "/",
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.Digest(pi.DiffID)}},
	}
	pi.Config = newBlob(ocispec.MediaTypeImageConfig, mustJSON(config))
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    pi.Config.Descriptor(),
		Layers:    []ocispec.Descriptor{pi.Layer.Descriptor()},
	}
	pi.Manifest = newBlob(ocispec.MediaTypeImageManifest, mustJSON(manifest))
	return pi
}

// layerTar is the uncompressed layer: entry's parent directories, entry
// (with mode) and /tmp, all root-owned and dated at the epoch.
func layerTar(entry string, bin []byte, mode int64) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(hdr tar.Header, data []byte) {
		hdr.ModTime = time.Unix(0, 0)
		hdr.Uname, hdr.Gname = "root", "root"
		hdr.Format = tar.FormatUSTAR
		must(tw.WriteHeader(&hdr))
		_, err := tw.Write(data)
		must(err)
	}
	for _, dir := range parentDirs(entry) {
		add(tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755}, nil)
	}
	add(tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(entry, "/"), Mode: mode, Size: int64(len(bin))}, bin)
	if !strings.HasPrefix(entry, "/tmp/") {
		// Sticky and world-writable, as programs expect of /tmp.
		add(tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}, nil)
	}
	must(tw.Close())
	return buf.Bytes()
}

// parentDirs lists the directories above the absolute path p, top first,
// without the leading slash: "/a/b/c" gives "a", "a/b".
func parentDirs(p string) []string {
	var dirs []string
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		dirs = append(dirs, strings.TrimPrefix(d, "/"))
	}
	slices.Reverse(dirs)
	return dirs
}

// gzipBytes compresses b with a header free of name and time, so equal
// input gives equal output.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	must(err)
	must(zw.Close())
	return buf.Bytes()
}

// parsePlatform reads "os/arch[/variant]".
func parsePlatform(s string) ocispec.Platform {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
		panic(fmt.Sprintf("registry: platform %q is not os/arch[/variant]", s))
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p
}

// mustJSON marshals the image-spec types, which cannot fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	must(err)
	return b
}

// must panics on errors that writing to memory cannot produce.
func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("registry: building image in memory: %v", err))
	}
}
