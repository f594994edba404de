package edged

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
)

// gcImageMiB is the size of each test image; gcDiskMiB the filesystem's.
const (
	gcImageMiB = 10
	gcDiskMiB  = 100
)

// TestImageGCStopsAtLowWater runs edged's image garbage collection against
// a real containerd whose root is on a filesystem of 100 MiB, filled to a
// chosen level with images of 10 MiB each (created one after the other)
// and a filler file: the disk usage is real and set by each case. Past
// the high mark the oldest unused images go, one by one, until the use is
// below the low mark; images a container uses stay.
func TestImageGCStopsAtLowWater(t *testing.T) {
	rt := hostctrd.RuntimeForTest(t)
	for _, tt := range []struct {
		name      string
		images    int
		inUse     []int
		fillerMiB int
		high, low int
		wantGone  []int // in the order removed; every other image stays
	}{
		// About 70 % used: under the high mark, nothing goes.
		{name: "below the high mark", images: 5, fillerMiB: 20, high: 85, low: 70},
		// About 86 %: the two oldest go (76 %, then 66 %), the third stays.
		{name: "past the high mark, down to the low mark", images: 5, fillerMiB: 36, high: 85, low: 70, wantGone: []int{0, 1}},
		// The oldest is in use: the next two oldest go instead.
		{name: "an image in use stays", images: 5, inUse: []int{0}, fillerMiB: 36, high: 85, low: 70, wantGone: []int{1, 2}},
		// A low mark out of reach: every unused image goes, no error.
		{name: "not enough to remove", images: 5, inUse: []int{2}, fillerMiB: 45, high: 85, low: 10, wantGone: []int{0, 1, 3, 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The daemon's root is a tmpfs of gcDiskMiB of its own.
			d := hostctrd.StartForTest(t, rt, hostctrd.Options{TmpfsMiB: gcDiskMiB})
			c := newClient(t, d.Settings.Socket)
			ctx := namespaces.WithNamespace(context.Background(), containerd.DefaultSettings().Namespace)
			names := make([]string, tt.images)
			for i := range names {
				names[i] = fmt.Sprintf("registry.test/gc/img%d:1", i)
				addImage(ctx, t, c, names[i], i)
			}
			for _, i := range tt.inUse {
				if _, err := c.NewContainer(ctx, fmt.Sprintf("user-%d", i), client.WithImageName(names[i]), client.WithNewSpec()); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(d.Root(), "filler"), make([]byte, tt.fillerMiB<<20), 0o600); err != nil {
				t.Fatal(err)
			}
			m := New(Config{Runtime: containerd.Settings{Endpoint: d.Settings.Socket, Root: d.Root()}, ImageGCHigh: tt.high, ImageGCLow: tt.low}, bus.New())
			rt, err := containerd.Connect(m.cfg.Runtime)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			m.rt = rt

			removed := m.collectImages(ctx)
			var want []string
			for _, i := range tt.wantGone {
				want = append(want, names[i])
			}
			if !slices.Equal(removed, want) {
				t.Fatalf("removed %v, want %v (disk %d%% used after)", removed, want, usedPercent(t, d.Root()))
			}
			left, err := c.ImageService().List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var kept []string
			for _, img := range left {
				kept = append(kept, img.Name)
			}
			slices.Sort(kept)
			wantKept := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return slices.Contains(want, n) })
			if !slices.Equal(kept, wantKept) {
				t.Fatalf("images left %v, want %v", kept, wantKept)
			}
			if len(tt.wantGone) > 0 && len(tt.wantGone)+len(tt.inUse) < tt.images && usedPercent(t, d.Root()) >= tt.low {
				t.Fatalf("stopped at %d%% used, above the low mark %d%%", usedPercent(t, d.Root()), tt.low)
			}
		})
	}
}

func usedPercent(t *testing.T, path string) int {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	used := st.Blocks - st.Bfree
	return int(used * 100 / (used + st.Bavail))
}

// addImage stores a one-layer image of gcImageMiB under name, with the
// garbage collection labels a pull leaves, so that removing the image
// frees its content.
func addImage(ctx context.Context, t *testing.T, c *client.Client, name string, seed int) {
	t.Helper()
	ctx, done, err := c.WithLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer done(ctx)
	cs := c.ContentStore()
	write := func(ref, mediaType string, data []byte, labels map[string]string) ocispec.Descriptor {
		desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
		if err := content.WriteBlob(ctx, cs, ref, bytes.NewReader(data), desc, content.WithLabels(labels)); err != nil {
			t.Fatal(err)
		}
		return desc
	}
	layer := bytes.Repeat([]byte{byte(seed + 1)}, gcImageMiB<<20)
	layerDesc := write("layer-"+name, ocispec.MediaTypeImageLayer, layer, nil)
	cfg := fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]},"config":{"Labels":{"name":%q}}}`, layerDesc.Digest, name)
	cfgDesc := write("config-"+name, ocispec.MediaTypeImageConfig, cfg, nil)
	manifest, err := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cfgDesc, Layers: []ocispec.Descriptor{layerDesc}})
	if err != nil {
		t.Fatal(err)
	}
	target := write("manifest-"+name, ocispec.MediaTypeImageManifest, manifest, map[string]string{
		"containerd.io/gc.ref.content.config": cfgDesc.Digest.String(),
		"containerd.io/gc.ref.content.l.0":    layerDesc.Digest.String(),
	})
	if _, err := c.ImageService().Create(ctx, images.Image{Name: name, Target: target}); err != nil {
		t.Fatal(err)
	}
}

// newClient is a containerd client of the daemon at socket, closed when
// t ends.
func newClient(t *testing.T, socket string) *client.Client {
	t.Helper()
	c, err := client.New(socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
