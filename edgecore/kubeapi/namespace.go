package kubeapi

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnsureNamespace creates namespace name when missing, with its "default"
// ServiceAccount. In a cluster kube-controller-manager's service-account
// controller makes that account; none runs here, and without it the
// ServiceAccount admission plugin refuses every pod of the namespace.
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
	return nil
}
