package satoken

import (
	"errors"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgegate/edgegate/edgecore/metamanager"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// token is a token for pod uid issued at issued for secs seconds.
func token(value, uid string, issued time.Time, secs int64) *authenticationv1.TokenRequest {
	return &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &secs,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: "web", UID: types.UID(uid)},
		},
		Status: authenticationv1.TokenRequestStatus{Token: value, ExpirationTimestamp: metav1.NewTime(issued.Add(time.Duration(secs) * time.Second))},
	}
}

func TestRequiresRefresh(t *testing.T) {
	hour := token("t", "u1", t0, 3600)
	twoDays := token("t", "u1", t0, 48*3600)
	noLifetime := token("t", "u1", t0, 3600)
	noLifetime.Spec.ExpirationSeconds = nil
	tests := []struct {
		name   string
		tr     *authenticationv1.TokenRequest
		at     time.Duration // after t0
		jitter time.Duration
		want   bool
	}{
		{"fresh", hour, 10 * time.Minute, 0, false},
		{"at 79% of its life", hour, 2844 * time.Second, 0, false},
		{"at 80% of its life", hour, 2880*time.Second + time.Millisecond, 0, true},
		{"jitter brings the refresh forward", hour, 2875 * time.Second, 10 * time.Second, true},
		{"expired", hour, 2 * time.Hour, 0, true},
		{"a long token within its first day", twoDays, 23 * time.Hour, 0, false},
		{"a long token after a day", twoDays, 24*time.Hour + time.Second, 0, true},
		{"no lifetime: kept", noLifetime, 2 * time.Hour, 0, false},
	}
	for _, tc := range tests {
		m := New(nil)
		m.now = func() time.Time { return t0.Add(tc.at) }
		m.jitter = func() time.Duration { return tc.jitter }
		if got := m.requiresRefresh(tc.tr); got != tc.want {
			t.Errorf("%s: requiresRefresh = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// fetcher hands out tokens in order, or fails with err.
type fetcher struct {
	tokens []*authenticationv1.TokenRequest
	err    error
	calls  int
}

func (f *fetcher) fetch(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := f.tokens[0]
	f.tokens = f.tokens[1:]
	return out, nil
}

func request(uid string) *authenticationv1.TokenRequest {
	secs := int64(3600)
	return &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &secs,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: "web", UID: types.UID(uid)},
	}}
}

func TestToken(t *testing.T) {
	errCloud := errors.New("not connected")
	tests := []struct {
		name      string
		second    time.Duration // when the second call happens, after t0
		fetchErr  error         // of the second fetch
		want      string        // token of the second call
		wantErr   string
		wantCalls int
	}{
		{"fresh token from the cache", 30 * time.Minute, nil, "first", "", 1},
		{"refreshed at 80% of its life", 50 * time.Minute, nil, "second", "", 2},
		{"refresh fails: the current token while it lasts", 50 * time.Minute, errCloud, "first", "", 2},
		{"refresh fails after expiry: an error", 61 * time.Minute, errCloud, "", "token expired and refresh failed: not connected", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fetcher{tokens: []*authenticationv1.TokenRequest{token("first", "u1", t0, 3600), token("second", "u1", t0.Add(tc.second), 3600)}}
			m := New(f.fetch)
			m.jitter = func() time.Duration { return 0 }
			now := t0
			m.now = func() time.Time { return now }
			if got, err := m.Token("ns", "default", request("u1")); err != nil || got.Status.Token != "first" {
				t.Fatalf("first Token = %+v, %v", got, err)
			}
			now = t0.Add(tc.second)
			f.err = tc.fetchErr
			got, err := m.Token("ns", "default", request("u1"))
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errCloud) {
					t.Errorf("second Token error %v, want %q wrapping the cause", err, tc.wantErr)
				}
			case err != nil || got.Status.Token != tc.want:
				t.Errorf("second Token = %+v, %v; want %s", got, err, tc.want)
			}
			if f.calls != tc.wantCalls {
				t.Errorf("fetched %d times, want %d", f.calls, tc.wantCalls)
			}
		})
	}
}

func TestTokenWithoutCacheFails(t *testing.T) {
	m := New((&fetcher{err: errors.New("refused")}).fetch)
	if _, err := m.Token("ns", "ghost", request("u1")); err == nil || !strings.Contains(err.Error(), "service account ns/ghost: fetch token: refused") {
		t.Fatalf("Token error %v", err)
	}
}

// TestCacheKeys: each request (pod, service account) has its own token;
// a pod's tokens go with it, expired ones at cleanup.
func TestCacheKeys(t *testing.T) {
	f := &fetcher{tokens: []*authenticationv1.TokenRequest{
		token("web", "u1", t0, 3600), token("db", "u2", t0, 600), token("other-sa", "u1", t0, 3600),
		token("web-again", "u1", t0, 3600), token("db-again", "u2", t0, 600),
	}}
	m := New(f.fetch)
	m.jitter = func() time.Duration { return 0 }
	now := t0
	m.now = func() time.Time { return now }
	ask := func(sa, uid string) string {
		t.Helper()
		tr, err := m.Token("ns", sa, request(uid))
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	if ask("default", "u1") != "web" || ask("default", "u2") != "db" || ask("other", "u1") != "other-sa" {
		t.Fatal("requests share tokens")
	}
	if ask("default", "u1") != "web" || f.calls != 3 {
		t.Fatalf("cached token not reused (%d fetches)", f.calls)
	}
	m.ForgetPod("u1")
	if ask("default", "u1") != "web-again" {
		t.Fatal("a forgotten pod's token was reused")
	}
	now = t0.Add(11 * time.Minute) // db's 600 s token expired
	m.Cleanup()
	if _, ok := m.get(keyOf("default", request("u2"))); ok {
		t.Error("expired token kept after cleanup")
	}
	if _, ok := m.get(keyOf("default", request("u1"))); !ok {
		t.Error("live token dropped at cleanup")
	}
}

func keyOf(sa string, tr *authenticationv1.TokenRequest) string {
	return metamanager.TokenKey(sa, "ns", tr)
}
