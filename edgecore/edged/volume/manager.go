package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
)

// Sources resolves the configmaps and secrets volumes refer to, and issues
// the service account tokens they project. A missing object is an error
// for which k8s.io/apimachinery/pkg/api/errors.IsNotFound is true; optional
// volumes tolerate that error and no other.
type Sources interface {
	ConfigMap(namespace, name string) (*v1.ConfigMap, error)
	Secret(namespace, name string) (*v1.Secret, error)
	// ServiceAccountToken returns a token for the request, for the
	// service account name in namespace (kubelet's token manager: a
	// cached token while it is fresh).
	ServiceAccountToken(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)
}

// Fields are the downward API facts that are not in the pod object (or not
// reliably: the pod status the apiserver sent may lag behind this node).
type Fields struct {
	PodIP    string
	HostIP   string
	NodeName string
	// Allocatable is the node's allocatable resources. A resourceFieldRef
	// to a limit the container does not set reports the node's allocatable
	// amount instead, as kubelet does; without it such a limit reads 0.
	Allocatable v1.ResourceList
}

// Mount is one prepared volume.
type Mount struct {
	// HostPath is what the container runtime bind-mounts.
	HostPath string
	// ReadOnly is true when the volume must be mounted read-only whatever
	// the volumeMount says (configMap, secret, downwardAPI, projected), as
	// kubelet forces it. The caller ORs it with volumeMount.readOnly.
	ReadOnly bool
}

// Manager keeps pods' volumes under Root/<pod uid>/volumes/<plugin>/<volume
// name>. Root is e.g. /var/lib/edgegate/pods and must be absolute.
//
// Calls for different pods may run concurrently; calls for the same pod must
// not (the caller's pod worker serialises them, as kubelet's does).
type Manager struct {
	Root string
	// RunRoot holds what a pod keeps in memory for this boot, under
	// RunRoot/<pod uid>: its memory-backed emptyDirs (in the same layout
	// as under Root) and whatever else the caller mounts there (edged's
	// pod IPC namespace and /dev/shm). It must be absolute; "" refuses
	// memory-backed volumes. It must be a mount point with shared
	// propagation made before containerd started (edgegate's init makes
	// /run/edgegate/pods so), or containerd, in a mount namespace of its
	// own, does not see what is mounted there.
	RunRoot string
}

const (
	volumesDir = "volumes"
	// podDirMode keeps other host users out of secrets, which, unlike in
	// kubelet, are on disk (see the package doc).
	podDirMode = 0o750
)

// RunDir returns RunRoot/<uid>, "" without a RunRoot.
func (m Manager) RunDir(podUID string) string {
	if m.RunRoot == "" {
		return ""
	}
	return filepath.Join(m.RunRoot, podUID)
}

// PodDir returns Root/<uid>. uid must be a pod UID as the apiserver makes
// them; Setup and Teardown refuse anything that could name another path.
func (m Manager) PodDir(podUID string) string {
	return filepath.Join(m.Root, podUID)
}

// Setup prepares every volume of the pod and returns them by volume name.
//
// It is idempotent and meant to be called on every pod sync: content volumes
// are rewritten (atomically) only when their content changed, emptyDir data
// is left alone, hostPath types are checked again. All volumes are attempted
// even when one fails, so that one sync reports every problem; on any error
// the result is nil and the pod's containers must not be started. Volumes
// already written keep their previous content when refreshing them fails,
// as in kubelet.
func (m Manager) Setup(pod *v1.Pod, src Sources, f Fields) (map[string]Mount, error) {
	if pod == nil {
		return nil, errors.New("setup volumes: no pod")
	}
	if err := m.check(string(pod.UID)); err != nil {
		return nil, fmt.Errorf("setup volumes of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if err := m.makePodDirs(string(pod.UID)); err != nil {
		return nil, fmt.Errorf("setup volumes of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	s := setup{
		pod:     pod,
		src:     src,
		fields:  f,
		fsGroup: fsGroup(pod),
		dir:     filepath.Join(m.PodDir(string(pod.UID)), volumesDir),
	}
	if m.RunRoot != "" {
		s.runDir = m.RunDir(string(pod.UID))
	}
	mounts := make(map[string]Mount, len(pod.Spec.Volumes))
	var errs []error
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		mount, err := s.volume(vol)
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", vol.Name, err))
			continue
		}
		mounts[vol.Name] = mount
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("setup volumes of pod %s/%s: %w", pod.Namespace, pod.Name, errors.Join(errs...))
	}
	return mounts, nil
}

// makePodDirs creates Root/<uid>/volumes. Root itself is created if missing
// but its mode is left to whoever made it.
func (m Manager) makePodDirs(uid string) error {
	if err := os.MkdirAll(m.Root, podDirMode); err != nil {
		return fmt.Errorf("create %s: %w", m.Root, err)
	}
	for _, dir := range []string{m.PodDir(uid), filepath.Join(m.PodDir(uid), volumesDir)} {
		if err := makeDir(dir, podDirMode, nil); err != nil {
			return err
		}
	}
	return nil
}

// Pods lists the pod UIDs that have a directory under Root or RunRoot,
// sorted, so that the caller can remove those of pods no longer wanted. A
// missing directory means no pods.
func (m Manager) Pods() ([]string, error) {
	if err := m.checkRoot(); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, root := range []string{m.Root, m.RunRoot} {
		if root == "" {
			continue
		}
		entries, err := os.ReadDir(root)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list pod directories: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() && validUID(e.Name()) == nil {
				set[e.Name()] = true
			}
		}
	}
	var uids []string
	for uid := range set {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	return uids, nil
}

// check refuses a Root or pod UID that would make PodDir name something other
// than a directory directly under Root.
func (m Manager) check(uid string) error {
	if err := m.checkRoot(); err != nil {
		return err
	}
	return validUID(uid)
}

func (m Manager) checkRoot() error {
	if !filepath.IsAbs(m.Root) {
		return fmt.Errorf("volume root %q is not an absolute path", m.Root)
	}
	if m.RunRoot != "" && !filepath.IsAbs(m.RunRoot) {
		return fmt.Errorf("in-memory volume root %q is not an absolute path", m.RunRoot)
	}
	return nil
}

// validUID refuses a pod UID that is not a single path element. Pod UIDs are
// UUIDs; anything else reaching here is a bug or an attack on the paths.
func validUID(uid string) error {
	if uid == "" {
		return errors.New("pod has no UID")
	}
	if !isPathElement(uid) {
		return fmt.Errorf("pod UID %q is not a single path element", uid)
	}
	return nil
}

// isPathElement tells whether name, joined to a directory, names an entry
// directly in it: not empty, not "." or "..", no separator, no NUL.
func isPathElement(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00")
}
