package volume

import (
	"maps"
	"os"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// kubeAPIAccess is the volume the ServiceAccount admission adds to pods.
func kubeAPIAccess(name string) v1.Volume {
	return v1.Volume{Name: name, VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{
		DefaultMode: ptr[int32](0o644),
		Sources: []v1.VolumeProjection{
			{ServiceAccountToken: &v1.ServiceAccountTokenProjection{ExpirationSeconds: ptr[int64](3607), Path: "token"}},
			{ConfigMap: &v1.ConfigMapProjection{
				LocalObjectReference: v1.LocalObjectReference{Name: rootCAConfigMap},
				Items:                []v1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}},
			}}},
		},
	}}}
}

func TestProjectedVolume(t *testing.T) {
	src := fakeSources{
		configMaps: map[string]*v1.ConfigMap{
			testNS + "/" + rootCAConfigMap: configMap(rootCAConfigMap, map[string]string{"ca.crt": "PEM"}, nil),
			testNS + "/cfg":                configMap("cfg", map[string]string{"shared": "from configmap", "c": "C"}, nil),
		},
		secrets: map[string]*v1.Secret{testNS + "/sec": secret("sec", map[string][]byte{"shared": []byte("from secret"), "s": []byte("S")})},
	}
	projected := func(defaultMode *int32, sources ...v1.VolumeProjection) v1.Volume {
		return v1.Volume{Name: "all", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{DefaultMode: defaultMode, Sources: sources}}}
	}
	cfg := v1.VolumeProjection{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}
	sec := v1.VolumeProjection{Secret: &v1.SecretProjection{
		LocalObjectReference: v1.LocalObjectReference{Name: "sec"},
		Items:                []v1.KeyToPath{{Key: "shared", Path: "shared"}, {Key: "s", Path: "sub/s", Mode: ptr[int32](0o400)}},
	}}
	name := v1.VolumeProjection{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{
		{Path: "podname", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
	}}}
	token := v1.VolumeProjection{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Audience: "vault", Path: "vault-token"}}
	tests := []struct {
		name      string
		vol       v1.Volume
		want      map[string]string
		modes     map[string]os.FileMode
		wantErr   []string
		wantNotFd bool
	}{{
		name:  "sources merge in order, later wins, defaultMode nil is 0644",
		vol:   projected(nil, cfg, sec, name),
		want:  map[string]string{"shared": "from secret", "c": "C", "sub/s": "S", "podname": "web"},
		modes: map[string]os.FileMode{"c": 0o644, "sub/s": 0o400, "podname": 0o644},
	}, {
		name:  "projected defaultMode applies to every source",
		vol:   projected(ptr[int32](0o440), cfg, name),
		want:  map[string]string{"shared": "from configmap", "c": "C", "podname": "web"},
		modes: map[string]os.FileMode{"c": 0o440, "podname": 0o440},
	}, {
		name:  "kube-api-access: token, ca.crt and namespace",
		vol:   kubeAPIAccess("kube-api-access-x7k2p"),
		want:  map[string]string{"token": "jwt:ns/runner:web:[]", "ca.crt": "PEM", "namespace": testNS},
		modes: map[string]os.FileMode{"token": 0o644, "ca.crt": 0o644},
	}, {
		name:  "a token beside other sources, for an audience",
		vol:   projected(nil, cfg, token),
		want:  map[string]string{"shared": "from configmap", "c": "C", "vault-token": "jwt:ns/runner:web:[vault]"},
		modes: map[string]os.FileMode{"vault-token": 0o644},
	}, {
		name:    "clusterTrustBundle is not supported",
		vol:     projected(nil, v1.VolumeProjection{ClusterTrustBundle: &v1.ClusterTrustBundleProjection{Path: "b"}}),
		wantErr: []string{"volume all:", "projected source clusterTrustBundle is not supported on this node"},
	}, {
		name:      "missing configmap source",
		vol:       projected(nil, v1.VolumeProjection{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}}}),
		wantErr:   []string{"volume all:", "configmap ns/nope"},
		wantNotFd: true,
	}, {
		name: "missing optional sources are empty",
		vol: projected(nil,
			v1.VolumeProjection{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}},
			v1.VolumeProjection{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}},
			name),
		want: map[string]string{"podname": "web"},
	}, {
		name: "every failing source is reported",
		vol: projected(nil,
			v1.VolumeProjection{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "sec"}, Items: []v1.KeyToPath{{Key: "absent", Path: "x"}}}},
			v1.VolumeProjection{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Items: []v1.KeyToPath{{Key: "c", Path: "/abs"}}}}),
		wantErr: []string{`secret ns/sec has no key "absent"`, "configmap ns/cfg: item c: path \"/abs\" must be relative"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := newPod(tc.vol)
			pod.Spec.ServiceAccountName = "runner"
			mounts, err := newManager(t).Setup(pod, src, Fields{})
			mount := mounts[tc.vol.Name]
			if tc.wantErr != nil {
				requireErrContains(t, err, tc.wantErr...)
				if got := apierrors.IsNotFound(err); got != tc.wantNotFd {
					t.Errorf("IsNotFound(%v) = %v, want %v", err, got, tc.wantNotFd)
				}
				return
			}
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if !mount.ReadOnly {
				t.Error("projected volume not read-only")
			}
			if got := visible(t, mount.HostPath); !maps.Equal(got, tc.want) {
				t.Errorf("files = %q, want %q", got, tc.want)
			}
			for rel, want := range tc.modes {
				if got := modeAt(t, mount.HostPath, rel); got != want {
					t.Errorf("mode of %s = %v, want %v", rel, got, want)
				}
			}
		})
	}
}
