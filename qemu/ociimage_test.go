package qemu

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
)

// ociDescriptor is a content descriptor of the OCI image spec.
type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    map[string]string `json:"platform,omitempty"`
}

// ociArchive is an OCI image layout as a tar (what containerd imports):
// one gzip layer holding bin at /<entry>, named by the
// io.containerd.image.name annotation. layerDigest lets a test corrupt it.
type ociArchive struct {
	data        []byte
	layer       []byte
	layerDigest string
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// ociPlatform is the image platform of a board's CPU.
func ociPlatform(a boards.Arch) map[string]string {
	if a == boards.ARMv7 {
		return map[string]string{"architecture": "arm", "os": "linux", "variant": "v7"}
	}
	return map[string]string{"architecture": "arm64", "os": "linux"}
}

func buildOCIArchive(t testing.TB, name, entry string, bin []byte, arch boards.Arch) ociArchive {
	t.Helper()
	epoch := time.Unix(0, 0)
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	must(t, tw.WriteHeader(&tar.Header{Name: entry, Mode: 0o755, Size: int64(len(bin)), ModTime: epoch, Typeflag: tar.TypeReg}))
	_, err := tw.Write(bin)
	must(t, err)
	must(t, tw.Close())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(layerTar.Bytes())
	must(t, err)
	must(t, zw.Close())
	layer := gz.Bytes()

	plat := ociPlatform(arch)
	cfg := map[string]any{
		"architecture": plat["architecture"], "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/" + entry}, "Env": []string{"PATH=/"}, "WorkingDir": "/"},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digestOf(layerTar.Bytes())}},
	}
	if v := plat["variant"]; v != "" {
		cfg["variant"] = v
	}
	cfgJSON := mustJSON(t, cfg)
	manifest := mustJSON(t, map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        ociDescriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: digestOf(cfgJSON), Size: int64(len(cfgJSON))},
		"layers":        []ociDescriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: digestOf(layer), Size: int64(len(layer))}},
	})
	index := mustJSON(t, map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []ociDescriptor{{
			MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: digestOf(manifest), Size: int64(len(manifest)),
			Platform:    plat,
			Annotations: map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "latest"},
		}},
	})
	var out bytes.Buffer
	ow := tar.NewWriter(&out)
	add := func(n string, b []byte) {
		must(t, ow.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Typeflag: tar.TypeReg}))
		_, err := ow.Write(b)
		must(t, err)
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	for _, blob := range [][]byte{layer, cfgJSON, manifest} {
		add("blobs/sha256/"+digestOf(blob)[len("sha256:"):], blob)
	}
	add("index.json", index)
	must(t, ow.Close())
	return ociArchive{data: out.Bytes(), layer: layer, layerDigest: digestOf(layer)}
}

// corrupted is the archive with one byte of the layer flipped: its bytes
// no longer match the digest the manifest names.
func (a ociArchive) corrupted(t testing.TB) []byte {
	t.Helper()
	i := bytes.Index(a.data, a.layer)
	if i < 0 {
		t.Fatal("layer not found in archive")
	}
	bad := bytes.Clone(a.data)
	bad[i+len(a.layer)/2] ^= 0xff
	return bad
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tarWriter writes the jobs disk: a plain tar, which QEMU attaches as a
// raw disk (tar files are whole 512-byte blocks).
type tarWriter struct{ *tar.Writer }

func newTarWriter(w io.Writer) tarWriter { return tarWriter{tar.NewWriter(w)} }

func (w tarWriter) add(t testing.TB, name string, data []byte) {
	t.Helper()
	must(t, w.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}))
	_, err := w.Write(data)
	must(t, err)
}
