package podspec

import "fmt"

// ConfigError is a mistake in the pod that only its author can fix: a volume
// mount naming no volume, a subPath leaving its volume, an unknown capability,
// a configmap that does not exist... kubelet reports these as the container's
// CreateContainerConfigError and retries later, since the pod (or the objects
// it refers to) may be corrected.
type ConfigError struct {
	// Container is the name of the container the problem is in.
	Container string
	// Field is the offending field, relative to the container (for example
	// "volumeMounts[1].subPath") or to the pod ("spec.shareProcessNamespace").
	Field string
	// Detail says what is wrong with it.
	Detail string
	// Err is the underlying error, if any (for example the NotFound error of
	// a missing configmap, so that apierrors.IsNotFound still sees it).
	Err error
}

func (e *ConfigError) Error() string {
	msg := fmt.Sprintf("container %q: %s: %s", e.Container, e.Field, e.Detail)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

func configError(container, field, format string, args ...any) *ConfigError {
	return &ConfigError{Container: container, Field: field, Detail: fmt.Sprintf(format, args...)}
}
