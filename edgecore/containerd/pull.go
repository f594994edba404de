package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	transferapi "github.com/containerd/containerd/api/services/transfer/v1"
	"github.com/containerd/containerd/api/types"
	transfertypes "github.com/containerd/containerd/api/types/transfer"
	streamproxy "github.com/containerd/containerd/v2/core/streaming/proxy"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/platforms"
	"github.com/containerd/typeurl/v2"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"k8s.io/klog/v2"
)

// pull has the daemon fetch ref from its registry and unpack it for the
// snapshotter (containerd's transfer service): the registry client runs
// in the daemon, which reads the hosts.toml files under HostsDir. creds,
// when set, answer the daemon's requests for credentials over a stream.
func (r *Runtime) pull(ctx context.Context, ref string, creds Credentials) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the credentials stream
	resolver := &transfertypes.RegistryResolver{HostDir: r.s.HostsDir}
	if k, ok := creds.(Keyring); creds != nil && (!ok || len(k) > 0) {
		id, err := r.serveCredentials(ctx, ref, creds)
		if err != nil {
			return err
		}
		resolver.AuthStream = id
	}
	src, err := typeurl.MarshalAnyToProto(&transfertypes.OCIRegistry{Reference: ref, Resolver: resolver})
	if err != nil {
		return err
	}
	wanted := platformVector(platforms.DefaultSpec())
	unpack := platforms.DefaultSpec()
	dst, err := typeurl.MarshalAnyToProto(&transfertypes.ImageStore{
		Name:      ref,
		Platforms: toProtoPlatforms(wanted),
		Unpacks:   []*transfertypes.UnpackConfiguration{{Platform: toProtoPlatform(unpack), Snapshotter: r.s.Snapshotter}},
	})
	if err != nil {
		return err
	}
	if _, err := r.transfer.Transfer(ctx, &transferapi.TransferRequest{Source: src, Destination: dst}); err != nil {
		return errgrpc.ToNative(err)
	}
	return nil
}

// platformVector lists the platforms containerd's platforms.Only(p)
// accepts, best first: the platform itself and the older variants its
// CPU runs (arm/v7 also runs v6 and v5 images). The client's pull took
// that matcher; the daemon's image store takes a list.
func platformVector(p ocispec.Platform) []ocispec.Platform {
	p = platforms.Normalize(p)
	only := platforms.Only(p)
	candidates := []ocispec.Platform{p}
	for _, arch := range []string{p.Architecture, "386"} {
		for v := 1; v <= 9; v++ {
			candidates = append(candidates, ocispec.Platform{OS: p.OS, Architecture: arch, Variant: fmt.Sprintf("v%d", v)})
		}
		candidates = append(candidates, ocispec.Platform{OS: p.OS, Architecture: arch})
	}
	var out []ocispec.Platform
	for _, c := range candidates {
		c = platforms.Normalize(c)
		if only.Match(c) && !slices.ContainsFunc(out, func(o ocispec.Platform) bool { return platforms.Format(o) == platforms.Format(c) }) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b ocispec.Platform) int {
		switch {
		case only.Less(a, b):
			return -1
		case only.Less(b, a):
			return 1
		}
		return 0
	})
	return out
}

func toProtoPlatform(p ocispec.Platform) *types.Platform {
	return &types.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}

func toProtoPlatforms(ps []ocispec.Platform) []*types.Platform {
	out := make([]*types.Platform, len(ps))
	for i, p := range ps {
		out[i] = toProtoPlatform(p)
	}
	return out
}

// serveCredentials opens a stream on the daemon's streaming service and
// answers, until ctx ends, the credential requests the daemon's resolver
// sends over it for ref's registries. It returns the stream's ID, which
// the transfer request names.
func (r *Runtime) serveCredentials(ctx context.Context, ref string, creds Credentials) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := "creds-" + hex.EncodeToString(b[:])
	stream, err := streamproxy.NewStreamCreator(r.conn).Create(ctx, id)
	if err != nil {
		return "", fmt.Errorf("credentials stream: %w", err)
	}
	go func() {
		defer stream.Close()
		for {
			req, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					klog.V(2).Infof("containerd: pull %s: credentials stream: %v", ref, err)
				}
				return
			}
			resp, err := answerCredentials(req, creds)
			if err != nil {
				// The daemon waits for an answer: anonymous it is.
				klog.Warningf("containerd: pull %s: %v", ref, err)
				resp, _ = typeurl.MarshalAny(&transfertypes.AuthResponse{AuthType: transfertypes.AuthType_REFRESH})
			}
			if err := stream.Send(resp); err != nil {
				return
			}
		}
	}()
	return id, nil
}

// answerCredentials answers one request: the user and secret for its
// host, or an empty answer (anonymous) for a host creds do not know.
func answerCredentials(req typeurl.Any, creds Credentials) (typeurl.Any, error) {
	var ar transfertypes.AuthRequest
	if err := typeurl.UnmarshalTo(req, &ar); err != nil {
		return nil, fmt.Errorf("credentials request: %w", err)
	}
	user, secret, err := creds.Lookup(ar.Host)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", ar.Host, err)
	}
	resp := &transfertypes.AuthResponse{AuthType: transfertypes.AuthType_REFRESH, Secret: secret}
	if user != "" {
		resp.AuthType, resp.Username = transfertypes.AuthType_CREDENTIALS, user
	}
	return typeurl.MarshalAny(resp)
}
