// Package satoken is edged's service account token manager, the kubelet's
// (pkg/kubelet/token): it keeps the tokens projected into pods' volumes
// and asks for a new one when a token is old, so that a running pod's
// token file is replaced before the API server stops accepting it.
//
// A token needs refreshing once 80% of its lifetime has passed, or once it
// is 24 hours old, with up to 10 s of jitter so that many pods do not ask
// at once. When asking fails, a token that has not expired yet is used
// again; an expired one is an error, and the pod's volume keeps the file it
// had. The tokens come from the cloud through metamanager, which keeps each
// answer: with the cloud away, the same request is answered with the last
// token issued for it, even past its expiry (the API server may still
// accept it, e.g. with its extended expiration for the default token), so
// that pods start offline.
package satoken

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/metamanager"
)

// The kubelet's refresh rule.
const (
	maxTTL    = 24 * time.Hour
	maxJitter = 10 * time.Second
	// refreshPercent is how much of its lifetime a token may have left
	// before it is refreshed.
	refreshPercent = 20
)

// Fetcher asks for a token of service account name in namespace.
type Fetcher func(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)

// Manager caches tokens by request. It is safe for concurrent use.
type Manager struct {
	fetch  Fetcher
	now    func() time.Time
	jitter func() time.Duration

	mu    sync.Mutex
	cache map[string]*authenticationv1.TokenRequest
}

// New returns a manager that asks fetch for tokens.
func New(fetch Fetcher) *Manager {
	return &Manager{
		fetch: fetch,
		now:   time.Now,
		// Whole seconds, as the kubelet's.
		jitter: func() time.Duration { return time.Duration(rand.Float64()*maxJitter.Seconds()) * time.Second },
		cache:  map[string]*authenticationv1.TokenRequest{},
	}
}

// Token returns a token for tr: the cached one while it is fresh, else a
// new one. If asking fails, a cached token that has not expired is
// returned and the failure logged.
func (m *Manager) Token(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	key := metamanager.TokenKey(name, namespace, tr)
	cached, ok := m.get(key)
	if ok && !m.requiresRefresh(cached) {
		return cached, nil
	}
	fresh, err := m.fetch(namespace, name, tr)
	if err != nil {
		switch {
		case !ok:
			return nil, fmt.Errorf("service account %s/%s: fetch token: %w", namespace, name, err)
		case m.expired(cached):
			return nil, fmt.Errorf("service account %s/%s: token expired and refresh failed: %w", namespace, name, err)
		}
		klog.Warningf("edged: service account %s/%s: could not refresh the token, keeping the current one until %s: %v",
			namespace, name, cached.Status.ExpirationTimestamp.Format(time.RFC3339), err)
		return cached, nil
	}
	m.mu.Lock()
	m.cache[key] = fresh
	m.mu.Unlock()
	return fresh, nil
}

// ForgetPod drops the tokens bound to the pod with uid (the kubelet's
// DeleteServiceAccountToken, when the pod is gone).
func (m *Manager) ForgetPod(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, tr := range m.cache {
		if tr.Spec.BoundObjectRef != nil && tr.Spec.BoundObjectRef.UID == uid {
			delete(m.cache, k)
		}
	}
}

// Cleanup drops expired tokens; the kubelet does it every minute.
func (m *Manager) Cleanup() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, tr := range m.cache {
		if m.expired(tr) {
			delete(m.cache, k)
		}
	}
}

func (m *Manager) get(key string) (*authenticationv1.TokenRequest, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tr, ok := m.cache[key]
	return tr, ok
}

func (m *Manager) expired(tr *authenticationv1.TokenRequest) bool {
	return m.now().After(tr.Status.ExpirationTimestamp.Time)
}

// requiresRefresh is the kubelet's rule: the token is older than 24 h, or
// within 20% of its lifetime of expiring, each less a jitter. A token
// without a lifetime (the API server always sets one) is kept.
func (m *Manager) requiresRefresh(tr *authenticationv1.TokenRequest) bool {
	if tr.Spec.ExpirationSeconds == nil {
		klog.Errorf("edged: token for %s has no expirationSeconds; not refreshing it", boundTo(tr))
		return false
	}
	now := m.now()
	secs := *tr.Spec.ExpirationSeconds
	exp := tr.Status.ExpirationTimestamp.Time
	issued := exp.Add(-time.Duration(secs) * time.Second)
	jitter := m.jitter()
	if now.After(issued.Add(maxTTL - jitter)) {
		return true
	}
	return now.After(exp.Add(-time.Duration(secs*refreshPercent/100)*time.Second - jitter))
}

func boundTo(tr *authenticationv1.TokenRequest) string {
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		return fmt.Sprintf("%s %s (%s)", ref.Kind, ref.Name, ref.UID)
	}
	return "no object"
}
