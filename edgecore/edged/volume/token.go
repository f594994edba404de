package volume

import (
	"errors"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
)

// serviceAccountToken makes the file of a projected serviceAccountToken
// source as kubelet does: a token for the pod's service account, bound to
// the pod, for the source's audience (none: the API server's) and
// lifetime. Its mode is the volume's defaultMode, or 0600 owned by the
// containers' common user when the pod has an fsUser or an fsGroup (the
// group then gets read, as for every file of the volume).
func (s setup) serviceAccountToken(src *v1.ServiceAccountTokenProjection, defaultMode *int32) (payload, error) {
	sa := s.pod.Spec.ServiceAccountName
	if sa == "" {
		return nil, errors.New("serviceAccountToken: the pod names no service account (spec.serviceAccountName)")
	}
	if s.src == nil {
		return nil, fmt.Errorf("serviceAccountToken: no source of tokens for service account %s/%s", s.pod.Namespace, sa)
	}
	mode, err := modeOrDefault(nil, defaultMode)
	if err != nil {
		return nil, fmt.Errorf("serviceAccountToken: defaultMode: %w", err)
	}
	user := fsUser(s.pod)
	if user != nil || s.fsGroup != nil {
		mode = 0o600
	}
	var audiences []string
	if src.Audience != "" {
		audiences = []string{src.Audience}
	}
	tr, err := s.src.ServiceAccountToken(s.pod.Namespace, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         audiences,
			ExpirationSeconds: src.ExpirationSeconds,
			BoundObjectRef: &authenticationv1.BoundObjectReference{
				APIVersion: "v1", Kind: "Pod", Name: s.pod.Name, UID: s.pod.UID,
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("serviceAccountToken: %w", err)
	}
	p := make(payload)
	if err := p.add(src.Path, file{data: []byte(tr.Status.Token), mode: mode, uid: user}); err != nil {
		return nil, fmt.Errorf("serviceAccountToken: %w", err)
	}
	return p, nil
}

// fsUser is the user every init and regular container of the pod runs as
// (the container's runAsUser, else the pod's), nil when one sets none or
// two differ: kubelet's FsUserFrom, the owner of projected tokens.
func fsUser(pod *v1.Pod) *int64 {
	var user *int64
	containers := append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for i := range containers {
		uid := runAsUser(pod, &containers[i])
		if uid == nil || (user != nil && *user != *uid) {
			return nil
		}
		user = uid
	}
	return user
}

func runAsUser(pod *v1.Pod, c *v1.Container) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if pod.Spec.SecurityContext != nil {
		return pod.Spec.SecurityContext.RunAsUser
	}
	return nil
}
