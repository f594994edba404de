package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
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
	img    client.Image
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
		img, err := r.c.GetImage(ctx, ref)
		switch {
		case err == nil:
			return r.ready(ctx, ref, img)
		case !errdefs.IsNotFound(err):
			return Image{}, fmt.Errorf("image %s: %w", ref, err)
		case policy == PullNever:
			return Image{}, fmt.Errorf("image %s: %w", ref, ErrNeverPull)
		}
	}
	img, err := r.c.Pull(ctx, ref,
		client.WithPullUnpack,
		client.WithPullSnapshotter(r.s.Snapshotter),
		client.WithPlatformMatcher(platforms.Default()),
		client.WithResolver(r.resolver(creds)))
	if err != nil {
		return Image{}, &PullError{Ref: ref, Err: err}
	}
	return r.ready(ctx, ref, img)
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

// ready unpacks the image if needed (an image imported by hand may not
// be) and reads its configuration.
func (r *Runtime) ready(ctx context.Context, ref string, img client.Image) (Image, error) {
	ok, err := img.IsUnpacked(ctx, r.s.Snapshotter)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", ref, err)
	}
	if !ok {
		if err := img.Unpack(ctx, r.s.Snapshotter); err != nil {
			return Image{}, fmt.Errorf("image %s: unpack: %w", ref, err)
		}
	}
	spec, err := img.Spec(ctx)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: config: %w", ref, err)
	}
	return Image{Ref: ref, ID: img.Target().Digest.String(), Config: spec.Config, img: img}, nil
}

// resolver reads registry hosts from HostsDir (plain HTTP, mirrors, CAs)
// and authenticates with creds.
func (r *Runtime) resolver(creds Credentials) remotes.Resolver {
	opts := config.HostOptions{HostDir: config.HostDirFromRoot(r.s.HostsDir)}
	if creds != nil {
		opts.Credentials = creds.Lookup
	}
	return docker.NewResolver(docker.ResolverOptions{Hosts: config.ConfigureHosts(context.Background(), opts)})
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
	ctns, err := r.c.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("image gc: %w", err)
	}
	inUse := map[string]bool{}
	for _, c := range ctns {
		if info, err := c.Info(ctx, client.WithoutRefreshedMetadata); err == nil {
			inUse[info.Image] = true
		}
	}
	imgs, err := r.c.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("image gc: %w", err)
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].CreatedAt.Before(imgs[j].CreatedAt) })
	var removed []string
	for _, img := range imgs {
		if used < low {
			break
		}
		if inUse[img.Name] {
			continue
		}
		if err := r.c.ImageService().Delete(ctx, img.Name, images.SynchronousDelete()); err != nil {
			return removed, fmt.Errorf("image gc: %s: %w", img.Name, err)
		}
		removed = append(removed, img.Name)
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
