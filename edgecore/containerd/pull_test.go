package containerd

import (
	"slices"
	"testing"

	transfertypes "github.com/containerd/containerd/api/types/transfer"
	"github.com/containerd/platforms"
	"github.com/containerd/typeurl/v2"
)

// The daemon fetches what containerd's client pull fetched with
// platforms.Default(): the gateway's platform and the variants it runs.
func TestPlatformVector(t *testing.T) {
	tests := []struct {
		p    string
		want []string
	}{
		{"linux/arm/v7", []string{"linux/arm/v7", "linux/arm/v6", "linux/arm/v5"}},
		{"linux/arm/v6", []string{"linux/arm/v6", "linux/arm/v5"}},
		{"linux/arm64/v8", []string{"linux/arm64"}}, // v8 is arm64's normal form
		{"linux/arm64", []string{"linux/arm64"}},
		{"linux/amd64", []string{"linux/amd64", "linux/386"}},
	}
	for _, tt := range tests {
		t.Run(tt.p, func(t *testing.T) {
			var got []string
			for _, p := range platformVector(platforms.MustParse(tt.p)) {
				got = append(got, platforms.Format(p))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("platformVector(%s) = %v, want %v", tt.p, got, tt.want)
			}
			only := platforms.Only(platforms.MustParse(tt.p))
			for _, p := range []string{"linux/arm/v8", "linux/arm64/v9", "linux/s390x", "windows/amd64"} {
				pp := platforms.MustParse(p)
				if !only.Match(pp) && slices.ContainsFunc(got, func(s string) bool { return s == platforms.Format(platforms.Normalize(pp)) }) {
					t.Errorf("%s listed, but platforms.Only(%s) refuses it", p, tt.p)
				}
			}
		})
	}
}

// The daemon's credential requests get the pull secret of the host they
// name, an anonymous answer for any other host, and a token as a refresh
// token (an entry without a user).
func TestAnswerCredentials(t *testing.T) {
	keys := Keyring{
		{Host: "registry.lan:5000", User: "edge", Password: "s3cret"},
		{Host: "docker.io", Password: "identity-token"},
	}
	tests := []struct {
		host string
		want *transfertypes.AuthResponse
	}{
		{"registry.lan:5000", &transfertypes.AuthResponse{AuthType: transfertypes.AuthType_CREDENTIALS, Username: "edge", Secret: "s3cret"}},
		{"registry-1.docker.io", &transfertypes.AuthResponse{AuthType: transfertypes.AuthType_REFRESH, Secret: "identity-token"}},
		{"elsewhere.example", &transfertypes.AuthResponse{AuthType: transfertypes.AuthType_REFRESH}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			req, err := typeurl.MarshalAny(&transfertypes.AuthRequest{Host: tt.host, Reference: "x/y:1"})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := answerCredentials(req, keys)
			if err != nil {
				t.Fatal(err)
			}
			var got transfertypes.AuthResponse
			if err := typeurl.UnmarshalTo(resp, &got); err != nil {
				t.Fatal(err)
			}
			if got.AuthType != tt.want.AuthType || got.Username != tt.want.Username || got.Secret != tt.want.Secret {
				t.Errorf("answer %v %q %q, want %v %q %q", got.AuthType, got.Username, got.Secret, tt.want.AuthType, tt.want.Username, tt.want.Secret)
			}
		})
	}
	if _, err := answerCredentials(typeurl.MarshalProto(nil), keys); err == nil {
		t.Error("a request that is no AuthRequest was answered")
	}
}
