package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// PullPolicy is a container's imagePullPolicy.
type PullPolicy string

// The pull policies of core/v1.
const (
	PullAlways       PullPolicy = "Always"
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullNever        PullPolicy = "Never"
)

// Image is an image ready to run: unpacked for the snapshotter.
type Image struct {
	// Ref is the normalised reference ("docker.io/library/nginx:1.27").
	Ref string
	// ID is the digest of the image's target (index or manifest), which
	// the pod status reports as imageID "<repo>@<digest>".
	ID     string
	Config ocispec.ImageConfig
	// chainID names the committed snapshot of the image's layers, the
	// parent of its containers' root filesystems.
	chainID string
}

// ErrNeverPull is returned for an absent image whose policy is Never: the
// kubelet's ErrImageNeverPull.
var ErrNeverPull = errors.New("image is not present and the pull policy is Never")

// PullError is a failed pull: the kubelet's ErrImagePull.
type PullError struct {
	Ref string
	Err error
}

func (e *PullError) Error() string { return fmt.Sprintf("pull %s: %v", e.Ref, e.Err) }
func (e *PullError) Unwrap() error { return e.Err }

// NormalizeRef turns a pod's image field into a full reference, as the
// kubelet does: "nginx" → "docker.io/library/nginx:latest".
func NormalizeRef(image string) (string, error) {
	named, err := reference.ParseDockerRef(image)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", image, err)
	}
	return named.String(), nil
}

// EnsureImage makes the image present according to policy: Always pulls
// (a registry that answers with the same digest costs one manifest
// request), IfNotPresent pulls when absent, Never fails when absent.
// creds answers the registry host's user and secret (pull secrets); nil
// means anonymous.
func (r *Runtime) EnsureImage(ctx context.Context, image string, policy PullPolicy, creds Credentials) (Image, error) {
	ref, err := NormalizeRef(image)
	if err != nil {
		return Image{}, &PullError{Ref: image, Err: err}
	}
	if policy == "" {
		policy = defaultPolicy(ref)
	}
	if policy != PullAlways {
		target, err := r.imageTarget(ctx, ref)
		switch {
		case err == nil:
			return r.ready(ctx, ref, target)
		case !errdefs.IsNotFound(err):
			return Image{}, fmt.Errorf("image %s: %w", ref, err)
		case policy == PullNever:
			return Image{}, fmt.Errorf("image %s: %w", ref, ErrNeverPull)
		}
	}
	if err := r.pull(ctx, ref, creds); err != nil {
		return Image{}, &PullError{Ref: ref, Err: err}
	}
	target, err := r.imageTarget(ctx, ref)
	if err != nil {
		return Image{}, &PullError{Ref: ref, Err: err}
	}
	return r.ready(ctx, ref, target)
}

// defaultPolicy is the API server's defaulting, for pods that reach the
// edge without it: Always for ":latest" or no tag, else IfNotPresent.
func defaultPolicy(ref string) PullPolicy {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return PullIfNotPresent
	}
	if tagged, ok := named.(reference.Tagged); ok && tagged.Tag() != "latest" {
		return PullIfNotPresent
	}
	if _, ok := named.(reference.Digested); ok {
		return PullIfNotPresent
	}
	return PullAlways
}

// imageTarget is the descriptor the image record names (an index or a
// manifest).
func (r *Runtime) imageTarget(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	resp, err := r.images.Get(ctx, &imagesapi.GetImageRequest{Name: ref})
	if err != nil {
		return ocispec.Descriptor{}, errgrpc.ToNative(err)
	}
	t := resp.GetImage().GetTarget()
	return ocispec.Descriptor{MediaType: t.GetMediaType(), Digest: digest.Digest(t.GetDigest()), Size: t.GetSize(), Annotations: t.GetAnnotations()}, nil
}

// ready reads the image's configuration for this platform and unpacks
// its layers if the snapshotter lacks them (an image imported by hand
// may not be unpacked).
func (r *Runtime) ready(ctx context.Context, ref string, target ocispec.Descriptor) (Image, error) {
	manifest, err := images.Manifest(ctx, r.content, target, platforms.Default())
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", ref, err)
	}
	raw, err := content.ReadBlob(ctx, r.content, manifest.Config)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: config: %w", ref, err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Image{}, fmt.Errorf("image %s: config: %w", ref, err)
	}
	chainID := identity.ChainID(cfg.RootFS.DiffIDs).String()
	if _, err := r.snapshots.Stat(ctx, chainID); errdefs.IsNotFound(err) {
		if err := r.unpack(ctx, manifest, cfg.RootFS.DiffIDs); err != nil {
			return Image{}, fmt.Errorf("image %s: unpack: %w", ref, err)
		}
	} else if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", ref, err)
	}
	return Image{Ref: ref, ID: target.Digest.String(), Config: cfg.Config, chainID: chainID}, nil
}

// ImageRepoDigest is what the pod status calls imageID: the repository
// with the digest ("docker.io/library/nginx@sha256:…").
func ImageRepoDigest(img Image) string {
	named, err := reference.ParseNormalizedNamed(img.Ref)
	if err != nil {
		return img.ID
	}
	return named.Name() + "@" + img.ID
}

// PruneImages removes images no container uses, least recently created
// first, while the filesystem holding fsPath is more than low percent
// full, once it passed high (the kubelet's image garbage collection). It
// returns the references removed.
func (r *Runtime) PruneImages(ctx context.Context, fsPath string, high, low int) ([]string, error) {
	used, err := usedPercent(fsPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // containerd has stored nothing yet
	}
	if err != nil || used < high {
		return nil, err
	}
	ctns, err := r.listContainers(ctx)
	if err != nil {
		return nil, fmt.Errorf("image gc: %w", err)
	}
	inUse := map[string]bool{}
	for _, c := range ctns {
		inUse[c.GetImage()] = true
	}
	resp, err := r.images.List(ctx, &imagesapi.ListImagesRequest{})
	if err != nil {
		return nil, fmt.Errorf("image gc: %w", errgrpc.ToNative(err))
	}
	imgs := resp.GetImages()
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].GetCreatedAt().AsTime().Before(imgs[j].GetCreatedAt().AsTime()) })
	var removed []string
	for _, img := range imgs {
		if used < low {
			break
		}
		if inUse[img.GetName()] {
			continue
		}
		if _, err := r.images.Delete(ctx, &imagesapi.DeleteImageRequest{Name: img.GetName(), Sync: true}); err != nil {
			return removed, fmt.Errorf("image gc: %s: %w", img.GetName(), errgrpc.ToNative(err))
		}
		removed = append(removed, img.GetName())
		if used, err = usedPercent(fsPath); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// usedPercent is how full the filesystem holding path is, as df counts it.
func usedPercent(path string) (int, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	total := st.Blocks
	if total == 0 {
		return 0, nil
	}
	usedBlocks := total - st.Bfree
	return int(usedBlocks * 100 / (usedBlocks + st.Bavail)), nil
}
