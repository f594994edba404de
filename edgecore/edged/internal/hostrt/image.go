package hostrt

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/edgegate/edgegate/init/containerd/ctr"
	"github.com/edgegate/edgegate/qemu/registry"
)

// importImage puts ImageRef into containerd's store the way an operator
// preloads one on an air-gapped gateway: an OCI archive given to
// edgegate-ctr import, which also unpacks it.
func importImage(h Host) error {
	bin, err := os.ReadFile(h.podapp())
	if err != nil {
		return err
	}
	img := registry.BuildImage(map[string][]byte{"linux/" + runtime.GOARCH: bin}, "/podapp", nil, nil)
	archive := filepath.Join(h.Work, "podapp.tar")
	if err := os.WriteFile(archive, ociArchive(img, ImageRef), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	tool := ctr.Tool{Settings: h.Daemon, Out: &out, Err: &out}
	if err := tool.Run(ctx, []string{"import", archive}); err != nil {
		return fmt.Errorf("importing the test image: %w: %s", err, out.String())
	}
	return nil
}

// ociArchive is an OCI image layout in a tar stream holding the image of
// one platform, named ref.
func ociArchive(img registry.Image, ref string) []byte {
	var multi ocispec.Index
	must(json.Unmarshal(img.Index.Data, &multi))
	pi := img.Manifests[0]
	desc := multi.Manifests[0] // with its platform
	desc.Annotations = map[string]string{"io.containerd.image.name": ref}
	index := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{desc},
	}
	indexJSON, err := json.Marshal(index)
	must(err)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		must(tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}))
		_, err := tw.Write(data)
		must(err)
	}
	add(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"`+ocispec.ImageLayoutVersion+`"}`))
	for _, b := range []registry.Blob{pi.Layer, pi.Config, pi.Manifest} {
		add("blobs/sha256/"+strings.TrimPrefix(b.Digest, "sha256:"), b.Data)
	}
	add(ocispec.ImageIndexFile, indexJSON)
	must(tw.Close())
	return buf.Bytes()
}

// must panics on errors that writing to memory cannot produce.
func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("hostrt: building the image archive in memory: %v", err))
	}
}
