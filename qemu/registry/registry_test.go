package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pullResolver is containerd's registry client as edgecore configures it
// for a plain-HTTP registry, with the given basic-auth credentials.
func pullResolver(user, password string) remotes.Resolver {
	creds := func(string) (string, string, error) { return user, password, nil }
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(
			docker.WithPlainHTTP(docker.MatchAllHosts),
			docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(creds))),
		),
	})
}

// TestPushPull pushes a three-platform image and pulls it back with
// containerd's resolver and fetcher: the tag resolves to the pushed
// index, and every manifest and blob comes back byte for byte.
func TestPushPull(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"anonymous", Options{}},
		{"basic auth", Options{User: "edge", Password: "s3cret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			reg := Start(t, tc.opts)
			img := BuildImage(fakeBinaries(), "/podapp", []string{"serve"}, nil)
			pushed, err := reg.Push(ctx, "edgegate/podapp", "test", img)
			if err != nil {
				t.Fatal(err)
			}
			if pushed != img.Digest() {
				t.Errorf("Push returned %s, want the index digest %s", pushed, img.Digest())
			}
			// Pushing again finds the blobs there and changes nothing.
			if again, err := reg.Push(ctx, "edgegate/podapp", "test", img); err != nil || again != pushed {
				t.Errorf("second push: %s, %v; want %s", again, err, pushed)
			}

			ref := reg.Addr() + "/edgegate/podapp:test"
			resolver := pullResolver(tc.opts.User, tc.opts.Password)
			_, desc, err := resolver.Resolve(ctx, ref)
			if err != nil {
				t.Fatalf("resolving %s: %v", ref, err)
			}
			if desc.Digest.String() != img.Digest() || desc.MediaType != ocispec.MediaTypeImageIndex {
				t.Fatalf("%s resolves to %s %s, want index %s", ref, desc.MediaType, desc.Digest, img.Digest())
			}
			fetcher, err := resolver.Fetcher(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			var index ocispec.Index
			if err := json.Unmarshal(fetch(t, fetcher, desc, img.Index.Data), &index); err != nil {
				t.Fatal(err)
			}
			var platforms []string
			for i, m := range index.Manifests {
				pi := img.Manifests[i]
				platforms = append(platforms, pi.Platform)
				fetch(t, fetcher, m, pi.Manifest.Data)
				fetch(t, fetcher, pi.Config.Descriptor(), pi.Config.Data)
				fetch(t, fetcher, pi.Layer.Descriptor(), pi.Layer.Data)
			}
			if got := strings.Join(platforms, " "); got != "linux/amd64 linux/arm/v7 linux/arm64" {
				t.Errorf("pulled platforms %s", got)
			}
		})
	}
}

// fetch pulls desc and checks it is want.
func fetch(t *testing.T, f remotes.Fetcher, desc ocispec.Descriptor, want []byte) []byte {
	t.Helper()
	rc, err := f.Fetch(t.Context(), desc)
	if err != nil {
		t.Fatalf("fetching %s: %v", desc.Digest, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", desc.Digest, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: pulled %d bytes differing from the %d pushed", desc.Digest, len(got), len(want))
	}
	return got
}

// TestAuthRequired checks that a registry with a user turns away pulls and
// pushes without the right password.
func TestAuthRequired(t *testing.T) {
	ctx := t.Context()
	reg := Start(t, Options{User: "edge", Password: "s3cret"})
	img := BuildImage(fakeBinaries(), "/podapp", nil, nil)
	if _, err := reg.Push(ctx, "edgegate/podapp", "v1", img); err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr() + "/edgegate/podapp:v1"

	for _, tc := range []struct{ name, user, password string }{
		{"wrong password", "edge", "wrong"},
		{"unknown user", "nobody", "s3cret"},
	} {
		t.Run("pull with "+tc.name, func(t *testing.T) {
			_, _, err := pullResolver(tc.user, tc.password).Resolve(ctx, ref)
			if status, ok := errors.AsType[remoteerrors.ErrUnexpectedStatus](err); !ok || status.StatusCode != http.StatusUnauthorized {
				t.Errorf("resolve: %v, want 401 Unauthorized", err)
			}
		})
	}
	t.Run("pull without credentials", func(t *testing.T) {
		if _, _, err := pullResolver("", "").Resolve(ctx, ref); !errors.Is(err, docker.ErrInvalidAuthorization) {
			t.Errorf("resolve: %v, want refused for lack of credentials", err)
		}
	})
	t.Run("push with wrong password", func(t *testing.T) {
		intruder := *reg
		intruder.password = "wrong"
		_, err := intruder.Push(ctx, "edgegate/podapp", "v2", img)
		if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
			t.Errorf("push: %v, want refused with 401 Unauthorized", err)
		}
	})
}

// fakeTB records what Start's binary check asks of the test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

func TestMissingBinary(t *testing.T) {
	for _, tc := range []struct {
		name       string
		require    string
		path       string
		skip, fail bool
	}{
		{"present", "", "/bin/sh", false, false},
		{"present and required", "1", "/bin/sh", false, false},
		{"absent", "", "/nonexistent/docker-registry", true, false},
		{"absent but required", "1", "/nonexistent/docker-registry", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(RequireEnv, tc.require)
			tb := &fakeTB{TB: t}
			checkBinary(tb, tc.path)
			if tb.skipped != tc.skip || tb.failed != tc.fail {
				t.Errorf("skipped %v failed %v, want %v %v", tb.skipped, tb.failed, tc.skip, tc.fail)
			}
		})
	}
}

// TestRegistryStops checks that the registry is gone once its test ends.
func TestRegistryStops(t *testing.T) {
	var addr string
	t.Run("registry", func(t *testing.T) {
		addr = Start(t, Options{}).Addr()
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("registry on %s still answers after its test ended", addr)
	}
}
