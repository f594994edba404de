package kubeapi

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnsureNamespace creates namespace name when missing, with its "default"
// ServiceAccount and its kube-root-ca.crt ConfigMap. In a cluster
// kube-controller-manager makes both (the service-account controller and
// the root-CA publisher); none runs here. Without the account the
// ServiceAccount admission plugin refuses every pod of the namespace;
// without the ConfigMap no kubelet can mount the kube-api-access volume
// that admission adds to every pod.
func (s *Server) EnsureNamespace(ctx context.Context, name string) error {
	namespaces := s.client.CoreV1().Namespaces()
	ns, err := namespaces.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		ns, err = namespaces.Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("kubeapi: namespace %s: %w", name, err)
	}
	if ns.Status.Phase == corev1.NamespaceTerminating {
		// Nothing here finishes deleting a namespace (that is the
		// namespace controller's work), so it would never come back.
		return fmt.Errorf("kubeapi: namespace %s is terminating", name)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: name}}
	if _, err := s.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubeapi: default service account of %s: %w", name, err)
	}
	ca := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: name},
		Data: map[string]string{"ca.crt": string(s.config.CAData)}}
	if _, err := s.client.CoreV1().ConfigMaps(name).Create(ctx, ca, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubeapi: kube-root-ca.crt of %s: %w", name, err)
	}
	return nil
}
