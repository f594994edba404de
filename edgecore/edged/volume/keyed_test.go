package volume

import (
	"maps"
	"os"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestConfigMapVolume(t *testing.T) {
	src := fakeSources{configMaps: map[string]*v1.ConfigMap{
		testNS + "/cfg": configMap("cfg",
			map[string]string{"app.yaml": "a: 1\n", "level": "debug"},
			map[string][]byte{"logo.bin": {0xff, 0x00, 0xfe}}),
	}}
	vol := func(cm *v1.ConfigMapVolumeSource) v1.Volume {
		return v1.Volume{Name: "config", VolumeSource: v1.VolumeSource{ConfigMap: cm}}
	}
	ref := v1.LocalObjectReference{Name: "cfg"}
	missing := v1.LocalObjectReference{Name: "absent"}
	type testCase struct {
		name      string
		src       Sources
		source    *v1.ConfigMapVolumeSource
		want      map[string]string
		modes     map[string]os.FileMode
		wantErr   []string
		wantNotFd bool
	}
	tests := []testCase{{
		name:   "all keys with data and binaryData, default mode when nil",
		source: &v1.ConfigMapVolumeSource{LocalObjectReference: ref},
		want:   map[string]string{"app.yaml": "a: 1\n", "level": "debug", "logo.bin": "\xff\x00\xfe"},
		modes:  map[string]os.FileMode{"app.yaml": 0o644, "logo.bin": 0o644},
	}, {
		name:   "defaultMode",
		source: &v1.ConfigMapVolumeSource{LocalObjectReference: ref, DefaultMode: ptr[int32](0o400)},
		want:   map[string]string{"app.yaml": "a: 1\n", "level": "debug", "logo.bin": "\xff\x00\xfe"},
		modes:  map[string]os.FileMode{"level": 0o400},
	}, {
		name: "items choose keys, paths and modes",
		source: &v1.ConfigMapVolumeSource{LocalObjectReference: ref, DefaultMode: ptr[int32](0o440), Items: []v1.KeyToPath{
			{Key: "app.yaml", Path: "conf/app.yaml"},
			{Key: "logo.bin", Path: "img/logo", Mode: ptr[int32](0o600)},
		}},
		want:  map[string]string{"conf/app.yaml": "a: 1\n", "img/logo": "\xff\x00\xfe"},
		modes: map[string]os.FileMode{"conf/app.yaml": 0o440, "img/logo": 0o600, "conf": 0o755},
	}, {
		name: "missing key is an error naming object and key",
		source: &v1.ConfigMapVolumeSource{LocalObjectReference: ref, Items: []v1.KeyToPath{
			{Key: "nope", Path: "nope"},
		}},
		wantErr: []string{"volume config:", `configmap ns/cfg has no key "nope"`},
	}, {
		name: "missing key of an optional configmap is skipped",
		source: &v1.ConfigMapVolumeSource{LocalObjectReference: ref, Optional: ptr(true), Items: []v1.KeyToPath{
			{Key: "nope", Path: "nope"}, {Key: "level", Path: "level"},
		}},
		want: map[string]string{"level": "debug"},
	}, {
		name:   "missing optional configmap is an empty volume",
		source: &v1.ConfigMapVolumeSource{LocalObjectReference: missing, Optional: ptr(true)},
		want:   map[string]string{},
	}, {
		name:      "missing configmap is a not-found error",
		source:    &v1.ConfigMapVolumeSource{LocalObjectReference: missing},
		wantErr:   []string{"volume config:", "configmap ns/absent"},
		wantNotFd: true,
	}, {
		name:    "optional tolerates only not-found",
		src:     fakeSources{err: errUnreachable},
		source:  &v1.ConfigMapVolumeSource{LocalObjectReference: ref, Optional: ptr(true)},
		wantErr: []string{"configmap ns/cfg", "cloud unreachable"},
	}, {
		name:    "mode out of range",
		source:  &v1.ConfigMapVolumeSource{LocalObjectReference: ref, DefaultMode: ptr[int32](0o1000)},
		wantErr: []string{"configmap ns/cfg", "defaultMode", "not within 0 and 0777"},
	}}
	for _, badPath := range []struct{ path, msg string }{
		{"../escape", "must not contain '..'"},
		{"a/../../escape", "must not contain '..'"},
		{"/etc/passwd", "must be relative"},
		{"..data", "must not start with '..'"},
		{"..2020_01_01_00_00_00.1/x", "must not start with '..'"},
		{"", "must not be empty"},
		{"./", "names the volume itself"},
	} {
		tests = append(tests, testCase{
			name: "bad item path " + badPath.path,
			source: &v1.ConfigMapVolumeSource{LocalObjectReference: ref, Items: []v1.KeyToPath{
				{Key: "level", Path: badPath.path},
			}},
			wantErr: []string{"volume config:", "configmap ns/cfg: item level", badPath.msg},
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t)
			s := tc.src
			if s == nil {
				s = src
			}
			mount, err := setupOne(t, m, s, vol(tc.source))
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
				t.Error("configMap volume not read-only")
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

func TestSecretVolume(t *testing.T) {
	src := fakeSources{secrets: map[string]*v1.Secret{
		testNS + "/creds": secret("creds", map[string][]byte{"password": []byte("s3cr\x00t"), "user": []byte("admin")}),
	}}
	vol := func(s *v1.SecretVolumeSource) v1.Volume {
		return v1.Volume{Name: "creds", VolumeSource: v1.VolumeSource{Secret: s}}
	}
	tests := []struct {
		name      string
		source    *v1.SecretVolumeSource
		want      map[string]string
		modes     map[string]os.FileMode
		wantErr   []string
		wantNotFd bool
	}{{
		name:   "all keys as bytes, 0644 when defaultMode is nil",
		source: &v1.SecretVolumeSource{SecretName: "creds"},
		want:   map[string]string{"password": "s3cr\x00t", "user": "admin"},
		modes:  map[string]os.FileMode{"password": 0o644, "user": 0o644},
	}, {
		name:   "defaultMode and item mode",
		source: &v1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr[int32](0o400), Items: []v1.KeyToPath{{Key: "user", Path: "u"}, {Key: "password", Path: "p/w", Mode: ptr[int32](0o600)}}},
		want:   map[string]string{"u": "admin", "p/w": "s3cr\x00t"},
		modes:  map[string]os.FileMode{"u": 0o400, "p/w": 0o600},
	}, {
		name:    "missing key",
		source:  &v1.SecretVolumeSource{SecretName: "creds", Items: []v1.KeyToPath{{Key: "token", Path: "token"}}},
		wantErr: []string{"volume creds:", `secret ns/creds has no key "token"`},
	}, {
		name:   "missing key, optional",
		source: &v1.SecretVolumeSource{SecretName: "creds", Optional: ptr(true), Items: []v1.KeyToPath{{Key: "token", Path: "token"}}},
		want:   map[string]string{},
	}, {
		name:      "missing secret",
		source:    &v1.SecretVolumeSource{SecretName: "other"},
		wantErr:   []string{"volume creds:", "secret ns/other"},
		wantNotFd: true,
	}, {
		name:   "missing secret, optional",
		source: &v1.SecretVolumeSource{SecretName: "other", Optional: ptr(true)},
		want:   map[string]string{},
	}, {
		name:    "bad item path",
		source:  &v1.SecretVolumeSource{SecretName: "creds", Items: []v1.KeyToPath{{Key: "user", Path: "../../etc/shadow"}}},
		wantErr: []string{"volume creds:", "secret ns/creds: item user", "must not contain '..'"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mount, err := setupOne(t, newManager(t), src, vol(tc.source))
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
				t.Error("secret volume not read-only")
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
