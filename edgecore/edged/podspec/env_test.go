package podspec

import (
	"errors"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// fakeSources is a map-backed Sources keyed by "namespace/name" that counts
// reads; err, when set, is returned for every read.
type fakeSources struct {
	configMaps map[string]*v1.ConfigMap
	secrets    map[string]*v1.Secret
	err        error
	reads      map[string]int
}

func (f *fakeSources) ConfigMap(namespace, name string) (*v1.ConfigMap, error) {
	f.count("configmap/" + namespace + "/" + name)
	if f.err != nil {
		return nil, f.err
	}
	if cm, ok := f.configMaps[namespace+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(v1.Resource("configmaps"), name)
}

func (f *fakeSources) Secret(namespace, name string) (*v1.Secret, error) {
	f.count("secret/" + namespace + "/" + name)
	if f.err != nil {
		return nil, f.err
	}
	if s, ok := f.secrets[namespace+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(v1.Resource("secrets"), name)
}

func (f *fakeSources) count(key string) {
	if f.reads == nil {
		f.reads = map[string]int{}
	}
	f.reads[key]++
}

func testSources() *fakeSources {
	return &fakeSources{
		configMaps: map[string]*v1.ConfigMap{
			"ns/cfg": {Data: map[string]string{"b": "2", "a": "1", "url": "http://x", "a=b": "bad", "1st": "digit"}},
		},
		secrets: map[string]*v1.Secret{
			"ns/creds": {Data: map[string][]byte{"user": []byte("admin"), "pass": []byte("s3cret")}},
		},
	}
}

func envPod(c v1.Container) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0", Namespace: "ns", UID: "uid-1",
			Labels:      map[string]string{"app": "web"},
			Annotations: map[string]string{"team": "edge"},
		},
		Spec: v1.PodSpec{
			NodeName:           "gw1",
			ServiceAccountName: "sa",
			Containers: []v1.Container{c, {
				Name: "side",
				Resources: v1.ResourceRequirements{
					Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")},
				},
			}},
		},
	}
}

func TestEnv(t *testing.T) {
	cmRef := func(name string, optional bool) *v1.ConfigMapEnvSource {
		return &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: name}, Optional: ptr.To(optional)}
	}
	cmKey := func(name, key string, optional bool) *v1.EnvVarSource {
		return &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: name}, Key: key, Optional: ptr.To(optional)}}
	}
	secretKey := func(name, key string, optional bool) *v1.EnvVarSource {
		return &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: name}, Key: key, Optional: ptr.To(optional)}}
	}
	field := func(path string) *v1.EnvVarSource {
		return &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}
	}
	res := func(container, name, divisor string) *v1.EnvVarSource {
		s := &v1.ResourceFieldSelector{ContainerName: container, Resource: name}
		if divisor != "" {
			s.Divisor = resource.MustParse(divisor)
		}
		return &v1.EnvVarSource{ResourceFieldRef: s}
	}
	resources := v1.ResourceRequirements{
		Requests: v1.ResourceList{
			v1.ResourceCPU:    resource.MustParse("250m"),
			v1.ResourceMemory: resource.MustParse("100Mi"),
		},
		Limits: v1.ResourceList{
			v1.ResourceCPU:              resource.MustParse("1500m"),
			v1.ResourceMemory:           resource.MustParse("200Mi"),
			v1.ResourceEphemeralStorage: resource.MustParse("1Gi"),
			"hugepages-2Mi":             resource.MustParse("4Mi"),
		},
	}
	fields := Fields{PodIPs: []string{"10.88.0.5", "fd00::5"}, PodIP: "ignored", HostIP: "192.168.1.2"}

	cases := []struct {
		name     string
		c        v1.Container
		imageEnv []string
		fields   Fields
		want     []string
	}{{
		name:     "image env first, overridden in place",
		imageEnv: []string{"PATH=/bin", "LANG=C", "NOEQUALS"},
		c:        v1.Container{Env: []v1.EnvVar{{Name: "LANG", Value: "en_US.UTF-8"}, {Name: "X", Value: "1"}}},
		want:     []string{"PATH=/bin", "LANG=en_US.UTF-8", "X=1"},
	}, {
		name: "envFrom configmap: sorted keys, prefix, invalid keys skipped, env overrides",
		c: v1.Container{
			EnvFrom: []v1.EnvFromSource{{ConfigMapRef: cmRef("cfg", false), Prefix: "CFG_"}},
			Env:     []v1.EnvVar{{Name: "CFG_b", Value: "override"}},
		},
		want: []string{"CFG_1st=digit", "CFG_a=1", "CFG_b=override", "CFG_url=http://x"},
	}, {
		name: "envFrom secret then configmap, later source wins in place",
		c: v1.Container{EnvFrom: []v1.EnvFromSource{
			{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "creds"}}},
			{ConfigMapRef: cmRef("cfg", false), Prefix: "p"},
			{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "creds"}}, Prefix: "p"},
		}},
		want: []string{"pass=s3cret", "user=admin", "p1st=digit", "pa=1", "pb=2", "purl=http://x", "ppass=s3cret", "puser=admin"},
	}, {
		name: "optional missing envFrom sources are skipped",
		c: v1.Container{EnvFrom: []v1.EnvFromSource{
			{ConfigMapRef: cmRef("nope", true)},
			{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Optional: ptr.To(true)}},
			{},
		}},
		want: []string{},
	}, {
		name:     "expansion against envFrom and earlier env only",
		imageEnv: []string{"HOME=/root"},
		c: v1.Container{
			EnvFrom: []v1.EnvFromSource{{ConfigMapRef: cmRef("cfg", false)}},
			Env: []v1.EnvVar{
				{Name: "A", Value: "$(a)-$(B)"},
				{Name: "B", Value: "b"},
				{Name: "C", Value: "$(B)$(A)"},
				{Name: "D", Value: "$$(B) $(HOME) $(NOPE)"},
				{Name: "E"},
			},
		},
		want: []string{"HOME=/root", "1st=digit", "a=1", "b=2", "url=http://x", "A=1-$(B)", "B=b", "C=b1-$(B)", "D=$(B) $(HOME) $(NOPE)", "E="},
	}, {
		name: "configMapKeyRef and secretKeyRef",
		c: v1.Container{Env: []v1.EnvVar{
			{Name: "URL", ValueFrom: cmKey("cfg", "url", false)},
			{Name: "USER", ValueFrom: secretKey("creds", "user", false)},
			{Name: "REF", Value: "$(USER)@$(URL)"},
		}},
		want: []string{"URL=http://x", "USER=admin", "REF=admin@http://x"},
	}, {
		name: "optional missing object or key sets nothing and keeps the envFrom value",
		c: v1.Container{
			EnvFrom: []v1.EnvFromSource{{ConfigMapRef: cmRef("cfg", false)}},
			Env: []v1.EnvVar{
				{Name: "a", ValueFrom: cmKey("nope", "x", true)},
				{Name: "b", ValueFrom: cmKey("cfg", "nokey", true)},
				{Name: "S1", ValueFrom: secretKey("nope", "x", true)},
				{Name: "S2", ValueFrom: secretKey("creds", "nokey", true)},
			},
		},
		want: []string{"1st=digit", "a=1", "b=2", "url=http://x"},
	}, {
		name: "fieldRef",
		c: v1.Container{Env: []v1.EnvVar{
			{Name: "NAME", ValueFrom: field("metadata.name")},
			{Name: "NS", ValueFrom: field("metadata.namespace")},
			{Name: "UID", ValueFrom: field("metadata.uid")},
			{Name: "APP", ValueFrom: field("metadata.labels['app']")},
			{Name: "NOLABEL", ValueFrom: field("metadata.labels['none']")},
			{Name: "TEAM", ValueFrom: field("metadata.annotations['team']")},
			{Name: "NODE", ValueFrom: field("spec.nodeName")},
			{Name: "SA", ValueFrom: field("spec.serviceAccountName")},
			{Name: "IP", ValueFrom: field("status.podIP")},
			{Name: "IPS", ValueFrom: field("status.podIPs")},
			{Name: "HOST", ValueFrom: field("status.hostIP")},
			{Name: "HOSTS", ValueFrom: field("status.hostIPs")},
			{Name: "NOVERSION", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		}},
		fields: fields,
		want: []string{"NAME=web-0", "NS=ns", "UID=uid-1", "APP=web", "NOLABEL=", "TEAM=edge", "NODE=gw1", "SA=sa",
			"IP=10.88.0.5", "IPS=10.88.0.5,fd00::5", "HOST=192.168.1.2", "HOSTS=192.168.1.2", "NOVERSION=web-0"},
	}, {
		name: "fieldRef pod IP from PodIP alone, host IPs list",
		c: v1.Container{Env: []v1.EnvVar{
			{Name: "IP", ValueFrom: field("status.podIP")},
			{Name: "IPS", ValueFrom: field("status.podIPs")},
			{Name: "HOSTS", ValueFrom: field("status.hostIPs")},
		}},
		fields: Fields{PodIP: "10.88.0.9", HostIPs: []string{"192.168.1.2", "fd01::2"}},
		want:   []string{"IP=10.88.0.9", "IPS=10.88.0.9", "HOSTS=192.168.1.2,fd01::2"},
	}, {
		name: "resourceFieldRef with divisors, rounding up",
		c: v1.Container{Name: "app", Resources: resources, Env: []v1.EnvVar{
			{Name: "LCPU", ValueFrom: res("", "limits.cpu", "")},
			{Name: "LCPU_M", ValueFrom: res("", "limits.cpu", "1m")},
			{Name: "RCPU", ValueFrom: res("", "requests.cpu", "")},
			{Name: "RMEM", ValueFrom: res("", "requests.memory", "1Mi")},
			{Name: "LMEM", ValueFrom: res("", "limits.memory", "")},
			{Name: "LMEM_G", ValueFrom: res("", "limits.memory", "1Gi")},
			{Name: "LEPH", ValueFrom: res("", "limits.ephemeral-storage", "1Mi")},
			{Name: "REPH", ValueFrom: res("", "requests.ephemeral-storage", "")},
			{Name: "LHUGE", ValueFrom: res("", "limits.hugepages-2Mi", "1Mi")},
			{Name: "SIDE", ValueFrom: res("side", "limits.memory", "1Mi")},
			{Name: "SELF", ValueFrom: res("app", "requests.cpu", "1m")},
		}},
		want: []string{"LCPU=2", "LCPU_M=1500", "RCPU=1", "RMEM=100", "LMEM=209715200", "LMEM_G=1",
			"LEPH=1024", "REPH=0", "LHUGE=4", "SIDE=64", "SELF=250"},
	}, {
		name: "resourceFieldRef: an unset limit is 0, or the node's allocatable",
		c: v1.Container{Name: "app", Env: []v1.EnvVar{
			{Name: "LCPU", ValueFrom: res("", "limits.cpu", "")},
			{Name: "LMEM", ValueFrom: res("", "limits.memory", "1Mi")},
			{Name: "LEPH", ValueFrom: res("", "limits.ephemeral-storage", "")},
		}},
		want: []string{"LCPU=0", "LMEM=0", "LEPH=0"},
	}, {
		name: "resourceFieldRef: node allocatable for unset limits, not requests",
		c: v1.Container{Name: "app", Env: []v1.EnvVar{
			{Name: "LCPU", ValueFrom: res("", "limits.cpu", "")},
			{Name: "LMEM", ValueFrom: res("", "limits.memory", "1Mi")},
			{Name: "RCPU", ValueFrom: res("", "requests.cpu", "")},
		}},
		fields: Fields{Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("2Gi")}},
		want:   []string{"LCPU=4", "LMEM=2048", "RCPU=0"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			if c.Name == "" {
				c.Name = "app"
			}
			pod := envPod(c)
			got, err := Env(pod, &pod.Spec.Containers[0], tc.imageEnv, testSources(), tc.fields)
			if err != nil {
				t.Fatalf("Env: %v", err)
			}
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("Env =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	storeDown := errors.New("store down")
	cases := []struct {
		name       string
		c          v1.Container
		src        *fakeSources
		wantConfig bool // a *ConfigError
		notFound   bool // apierrors.IsNotFound(err)
		wantIs     error
		mention    []string
	}{{
		name: "missing configmap in envFrom",
		c: v1.Container{EnvFrom: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{
			LocalObjectReference: v1.LocalObjectReference{Name: "nope"}}}}},
		wantConfig: true, notFound: true, mention: []string{"envFrom[0].configMapRef", "configmap ns/nope"},
	}, {
		name: "missing secret in envFrom",
		c: v1.Container{EnvFrom: []v1.EnvFromSource{{SecretRef: &v1.SecretEnvSource{
			LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Optional: ptr.To(false)}}}},
		wantConfig: true, notFound: true, mention: []string{"envFrom[0].secretRef", "secret ns/nope"},
	}, {
		name: "missing configmap of a key ref",
		c: v1.Container{Env: []v1.EnvVar{{Name: "V", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Key: "k"}}}}},
		wantConfig: true, notFound: true, mention: []string{"variable V", "env[0].valueFrom.configMapKeyRef", "configmap ns/nope", `key "k"`},
	}, {
		name: "missing key in configmap",
		c: v1.Container{Env: []v1.EnvVar{{Name: "V", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "nokey"}}}}},
		wantConfig: true, mention: []string{"variable V", "configmap ns/cfg", `"nokey"`},
	}, {
		name: "missing secret of a key ref",
		c: v1.Container{Env: []v1.EnvVar{{Name: "P", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Key: "pass"}}}}},
		wantConfig: true, notFound: true, mention: []string{"variable P", "secret ns/nope", `key "pass"`},
	}, {
		name: "missing key in secret",
		c: v1.Container{Env: []v1.EnvVar{{Name: "P", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "creds"}, Key: "token"}}}}},
		wantConfig: true, mention: []string{"secret ns/creds", `"token"`},
	}, {
		name: "store failure is not a config error",
		c: v1.Container{EnvFrom: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{
			LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Optional: ptr.To(true)}}}},
		src:    &fakeSources{err: storeDown},
		wantIs: storeDown, mention: []string{"configmap ns/cfg"},
	}, {
		name: "unsupported fieldPath",
		c: v1.Container{Env: []v1.EnvVar{{Name: "F", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{
			FieldPath: "metadata.labels"}}}}},
		wantConfig: true, mention: []string{"variable F", "metadata.labels"},
	}, {
		name: "unsupported fieldRef apiVersion",
		c: v1.Container{Env: []v1.EnvVar{{Name: "F", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{
			APIVersion: "v2", FieldPath: "metadata.name"}}}}},
		wantConfig: true, mention: []string{"apiVersion", "v2"},
	}, {
		name: "unknown host IP",
		c: v1.Container{Env: []v1.EnvVar{{Name: "H", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{
			FieldPath: "status.hostIP"}}}}},
		mention: []string{"variable H", "IP address"},
	}, {
		name: "unsupported resource",
		c: v1.Container{Env: []v1.EnvVar{{Name: "R", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{
			Resource: "limits.gpu"}}}}},
		wantConfig: true, mention: []string{"variable R", "limits.gpu"},
	}, {
		name: "resource of an unknown container",
		c: v1.Container{Env: []v1.EnvVar{{Name: "R", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{
			ContainerName: "ghost", Resource: "limits.cpu"}}}}},
		wantConfig: true, mention: []string{"ghost"},
	}, {
		name:       "valueFrom with no source",
		c:          v1.Container{Env: []v1.EnvVar{{Name: "X", ValueFrom: &v1.EnvVarSource{}}}},
		wantConfig: true, mention: []string{"variable X"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Name = "app"
			pod := envPod(c)
			src := tc.src
			if src == nil {
				src = testSources()
			}
			_, err := Env(pod, &pod.Spec.Containers[0], nil, src, Fields{})
			if err == nil {
				t.Fatal("Env succeeded")
			}
			var ce *ConfigError
			if got := errors.As(err, &ce); got != tc.wantConfig {
				t.Errorf("ConfigError = %v, want %v (%v)", got, tc.wantConfig, err)
			}
			if got := apierrors.IsNotFound(err); got != tc.notFound {
				t.Errorf("IsNotFound = %v, want %v (%v)", got, tc.notFound, err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			}
			for _, m := range append(tc.mention, `"app"`) {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestEnvReadsEachObjectOnce(t *testing.T) {
	c := v1.Container{
		Name:    "app",
		EnvFrom: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}},
		Env: []v1.EnvVar{
			{Name: "A", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "a"}}},
			{Name: "U", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "creds"}, Key: "user"}}},
			{Name: "P", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "creds"}, Key: "pass"}}},
		},
	}
	pod := envPod(c)
	src := testSources()
	if _, err := Env(pod, &pod.Spec.Containers[0], nil, src, Fields{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"configmap/ns/cfg": 1, "secret/ns/creds": 1}
	for k, n := range want {
		if src.reads[k] != n {
			t.Errorf("%s read %d times, want %d (%v)", k, src.reads[k], n, src.reads)
		}
	}
}
