package containerd

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	diffapi "github.com/containerd/containerd/api/services/diff/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/labels"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"k8s.io/klog/v2"
)

// unpack applies the manifest's layers, each into a snapshot on top of
// the one before (the daemon's diff service decompresses and writes
// them), as containerd's client does for an image stored but not
// unpacked. The image's configuration then references the top snapshot,
// which keeps the snapshots from the garbage collector while the image
// exists.
//
// It calls the diff service itself: containerd's Go helpers for this
// (pkg/rootfs, core/diff) register decompressors that would link zstd and
// gzip into edgecore for work the daemon does.
func (r *Runtime) unpack(ctx context.Context, manifest ocispec.Manifest, diffIDs []digest.Digest) error {
	if len(diffIDs) != len(manifest.Layers) {
		return fmt.Errorf("%d layers in the manifest, %d in the configuration", len(manifest.Layers), len(diffIDs))
	}
	ctx, done, err := r.withLease(ctx)
	if err != nil {
		return err
	}
	defer done()
	for i, blob := range manifest.Layers {
		chainID := identity.ChainID(diffIDs[:i+1]).String()
		if _, err := r.snapshots.Stat(ctx, chainID); err == nil {
			continue
		} else if !errdefs.IsNotFound(err) {
			return fmt.Errorf("layer %s: %w", blob.Digest, err)
		}
		parent := ""
		if i > 0 {
			parent = identity.ChainID(diffIDs[:i]).String()
		}
		if err := r.applyLayer(ctx, blob, diffIDs[i], parent, chainID); err != nil {
			if errdefs.IsAlreadyExists(err) { // unpacked meanwhile by another pull
				continue
			}
			return fmt.Errorf("layer %s: %w", blob.Digest, err)
		}
		// The uncompressed digest is verified now: record it.
		info := content.Info{Digest: blob.Digest, Labels: map[string]string{labels.LabelUncompressed: diffIDs[i].String()}}
		if _, err := r.content.Update(ctx, info, "labels."+labels.LabelUncompressed); err != nil {
			return fmt.Errorf("layer %s: %w", blob.Digest, err)
		}
	}
	gcRef := "containerd.io/gc.ref.snapshot." + r.s.Snapshotter
	info := content.Info{Digest: manifest.Config.Digest, Labels: map[string]string{gcRef: identity.ChainID(diffIDs).String()}}
	if _, err := r.content.Update(ctx, info, "labels."+gcRef); err != nil {
		return fmt.Errorf("config %s: %w", manifest.Config.Digest, err)
	}
	return nil
}

// applyLayer extracts blob into a new snapshot on parent and commits it
// as chainID, checking that its content is diffID.
func (r *Runtime) applyLayer(ctx context.Context, blob ocispec.Descriptor, diffID digest.Digest, parent, chainID string) (err error) {
	key, mounts, err := r.prepareExtraction(ctx, parent, chainID)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if rerr := r.snapshots.Remove(context.WithoutCancel(ctx), key); rerr != nil && !errdefs.IsNotFound(rerr) {
				klog.Warningf("containerd: remove extraction snapshot %s: %v", key, rerr)
			}
		}
	}()
	resp, err := diffapi.NewDiffClient(r.conn).Apply(ctx, &diffapi.ApplyRequest{
		Diff:   &types.Descriptor{MediaType: blob.MediaType, Digest: blob.Digest.String(), Size: blob.Size, Annotations: blob.Annotations},
		Mounts: toProtoMounts(mounts),
	})
	if err != nil {
		return fmt.Errorf("extract: %w", errgrpc.ToNative(err))
	}
	if got := resp.GetApplied().GetDigest(); got != diffID.String() {
		return fmt.Errorf("extract: the content is %s, the image says %s", got, diffID)
	}
	if err := r.snapshots.Commit(ctx, chainID, key); err != nil {
		return fmt.Errorf("commit snapshot %s: %w", chainID, err)
	}
	return nil
}

// prepareExtraction prepares an active snapshot on parent under a fresh
// key of containerd's extraction format.
func (r *Runtime) prepareExtraction(ctx context.Context, parent, chainID string) (string, []mount.Mount, error) {
	for {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, err
		}
		unique := fmt.Sprintf("%d-%s", time.Now().Nanosecond(), base64.URLEncoding.EncodeToString(b[:]))
		key := fmt.Sprintf(snapshots.UnpackKeyFormat, unique, chainID)
		mounts, err := r.snapshots.Prepare(ctx, key, parent)
		if errdefs.IsAlreadyExists(err) {
			continue // that key is taken: another one
		}
		if err != nil {
			return "", nil, fmt.Errorf("prepare extraction snapshot: %w", err)
		}
		return key, mounts, nil
	}
}

func toProtoMounts(ms []mount.Mount) []*types.Mount {
	out := make([]*types.Mount, len(ms))
	for i, m := range ms {
		out[i] = &types.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: m.Options}
	}
	return out
}
