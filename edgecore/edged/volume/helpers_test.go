package volume

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeSources serves configmaps and secrets from maps keyed "namespace/name",
// and tokens named after what was asked. err, when set, is returned for
// every lookup (an unreachable cloud); tokenErr for tokens only.
type fakeSources struct {
	configMaps map[string]*v1.ConfigMap
	secrets    map[string]*v1.Secret
	err        error
	tokenErr   error
	// serial, when set, is counted up and put in each token, so that every
	// request gets another token (a refresh).
	serial *int
	// asked records the token requests, when set.
	asked *[]tokenAsk
}

type tokenAsk struct {
	namespace, name string
	tr              *authenticationv1.TokenRequest
}

func (f fakeSources) ServiceAccountToken(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	if f.asked != nil {
		*f.asked = append(*f.asked, tokenAsk{namespace, name, tr.DeepCopy()})
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.tokenErr != nil {
		return nil, f.tokenErr
	}
	out := tr.DeepCopy()
	out.Status.Token = fmt.Sprintf("jwt:%s/%s:%s:%v", namespace, name, tr.Spec.BoundObjectRef.Name, tr.Spec.Audiences)
	if f.serial != nil {
		*f.serial++
		out.Status.Token += fmt.Sprintf(":%d", *f.serial)
	}
	return out, nil
}

func (f fakeSources) ConfigMap(namespace, name string) (*v1.ConfigMap, error) {
	if f.err != nil {
		return nil, f.err
	}
	if cm, ok := f.configMaps[namespace+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(v1.Resource("configmaps"), name)
}

func (f fakeSources) Secret(namespace, name string) (*v1.Secret, error) {
	if f.err != nil {
		return nil, f.err
	}
	if s, ok := f.secrets[namespace+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(v1.Resource("secrets"), name)
}

const (
	testNS  = "ns"
	testUID = "0c6f2a1e-8f7b-4d2a-9d56-3f1f7f0b9a10"
)

func configMap(name string, data map[string]string, binary map[string][]byte) *v1.ConfigMap {
	return &v1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name},
		Data:       data,
		BinaryData: binary,
	}
}

func secret(name string, data map[string][]byte) *v1.Secret {
	return &v1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name}, Data: data}
}

func newPod(vols ...v1.Volume) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "web", UID: testUID},
		Spec: v1.PodSpec{
			Volumes:    vols,
			Containers: []v1.Container{{Name: "app", Image: "app"}},
		},
	}
}

func ptr[T any](v T) *T { return &v }

func newManager(t *testing.T) Manager {
	t.Helper()
	return Manager{Root: filepath.Join(t.TempDir(), "pods")}
}

// setupOne runs Setup for a pod with the single volume vol and returns its
// mount (or the error).
func setupOne(t *testing.T, m Manager, src Sources, vol v1.Volume) (Mount, error) {
	t.Helper()
	mounts, err := m.Setup(newPod(vol), src, Fields{})
	if err != nil {
		return Mount{}, err
	}
	mount, ok := mounts[vol.Name]
	if !ok {
		t.Fatalf("Setup returned no mount for %s: %v", vol.Name, mounts)
	}
	return mount, nil
}

// visible returns what a container sees in a volume directory: every file
// reachable from the top-level entries other than the writer's own (..*),
// following symlinks, by relative path.
func visible(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	var walk func(rel string)
	walk = func(rel string) {
		entries, err := os.ReadDir(filepath.Join(dir, rel))
		if err != nil {
			t.Fatalf("read %s: %v", filepath.Join(dir, rel), err)
		}
		for _, e := range entries {
			if rel == "" && strings.HasPrefix(e.Name(), "..") {
				continue
			}
			r := path.Join(rel, e.Name())
			info, err := os.Stat(filepath.Join(dir, r))
			if err != nil {
				t.Fatalf("stat %s: %v", r, err)
			}
			if info.IsDir() {
				walk(r)
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, r))
			if err != nil {
				t.Fatalf("read %s: %v", r, err)
			}
			out[r] = string(data)
		}
	}
	walk("")
	return out
}

// modeAt is the mode of rel in dir, following symlinks.
func modeAt(t *testing.T, dir, rel string) os.FileMode {
	t.Helper()
	info, err := os.Stat(filepath.Join(dir, rel))
	if err != nil {
		t.Fatalf("stat %s: %v", rel, err)
	}
	return modeOf(info)
}

func gidAt(t *testing.T, p string) int64 {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return int64(info.Sys().(*syscall.Stat_t).Gid)
}

// stamp is what a rewrite, chmod or chown of an entry would change.
type stamp struct {
	ino          uint64
	mtime, ctime syscall.Timespec
	mode         os.FileMode
}

// snapshot stamps every entry under dir, without following symlinks.
func snapshot(t *testing.T, dir string) map[string]stamp {
	t.Helper()
	out := make(map[string]stamp)
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		out[p] = stamp{ino: st.Ino, mtime: st.Mtim, ctime: st.Ctim, mode: info.Mode()}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return out
}

func requireErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func requireRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root: %s", why)
	}
}

var errUnreachable = errors.New("cloud unreachable")

// rootCAConfigMap is the configmap of the cluster CA that the
// kube-api-access volume projects.
const rootCAConfigMap = "kube-root-ca.crt"
