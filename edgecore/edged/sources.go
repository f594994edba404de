package edged

import (
	"encoding/json"
	"errors"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/satoken"
	"github.com/edgegate/edgegate/edgecore/metamanager"
	"github.com/edgegate/edgegate/edgecore/model"
)

// objectSources reads the configmaps and secrets pods use as the
// kubelet's Get strategy does: the local store first, then the cloud,
// through metamanager, which stores what the cloud answers. A stock
// cloudcore sends them to the edge only when asked or when they change.
type objectSources struct {
	objects Objects
	tokens  *satoken.Manager
}

func (m *Module) sources() objectSources {
	return objectSources{objects: m.cfg.Objects, tokens: m.tokens}
}

// ServiceAccountToken is the kubelet's token manager: a cached token while
// it is fresh, else one asked of the cloud (through metamanager).
func (s objectSources) ServiceAccountToken(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	return s.tokens.Token(namespace, name, tr)
}

// tokenFetcher asks objects for tokens; without objects there are none.
func tokenFetcher(objects Objects) satoken.Fetcher {
	return func(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
		if objects == nil {
			return nil, errors.New("no source of service account tokens")
		}
		return objects.ServiceAccountToken(namespace, name, tr)
	}
}

func (s objectSources) ConfigMap(namespace, name string) (*v1.ConfigMap, error) {
	cm := &v1.ConfigMap{}
	if err := s.get(namespace, model.ResourceTypeConfigmap, name, "configmaps", cm); err != nil {
		return nil, err
	}
	return cm, nil
}

func (s objectSources) Secret(namespace, name string) (*v1.Secret, error) {
	sec := &v1.Secret{}
	if err := s.get(namespace, model.ResourceTypeSecret, name, "secrets", sec); err != nil {
		return nil, err
	}
	return sec, nil
}

// get decodes the object; absence is an apierrors NotFound, as a
// kubelet's client would return it.
func (s objectSources) get(namespace, typ, name, resource string, into any) error {
	if s.objects == nil {
		return apierrors.NewNotFound(schema.GroupResource{Resource: resource}, name)
	}
	raw, err := s.objects.Get(namespace, typ, name)
	if errors.Is(err, metamanager.ErrNotFound) || (err == nil && raw == "") {
		return apierrors.NewNotFound(schema.GroupResource{Resource: resource}, name)
	}
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", typ, namespace, name, err)
	}
	if isNotFoundBody(raw) {
		return apierrors.NewNotFound(schema.GroupResource{Resource: resource}, name)
	}
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		return fmt.Errorf("%s %s/%s: %w", typ, namespace, name, err)
	}
	return nil
}

// isNotFoundBody recognises the cloud's answer to a query for an object
// that does not exist: a metav1.Status with reason NotFound.
func isNotFoundBody(raw string) bool {
	var st struct {
		Kind   string `json:"kind"`
		Reason string `json:"reason"`
		Code   int32  `json:"code"`
		Err    *struct {
			Reason string `json:"reason"`
			Code   int32  `json:"code"`
		} `json:"ErrStatus"`
	}
	if json.Unmarshal([]byte(raw), &st) != nil {
		return false
	}
	if st.Err != nil {
		return st.Err.Code == 404 || st.Err.Reason == "NotFound"
	}
	return st.Kind == "Status" && (st.Code == 404 || st.Reason == "NotFound")
}

// pullSecrets reads the pod's imagePullSecrets into one keyring. A
// missing secret is skipped, as the kubelet does (the pull may be
// anonymous); one that does not parse is an error naming it.
func (m *Module) pullSecrets(pod *v1.Pod) (containerd.Keyring, error) {
	var k containerd.Keyring
	src := m.sources()
	for _, ref := range pod.Spec.ImagePullSecrets {
		sec, err := src.Secret(pod.Namespace, ref.Name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("image pull secret %s: %w", ref.Name, err)
		}
		entries, err := containerd.ParsePullSecret(ref.Name, string(sec.Type), sec.Data)
		if err != nil {
			return nil, err
		}
		k = append(k, entries...)
	}
	return k, nil
}
