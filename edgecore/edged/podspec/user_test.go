package podspec

import (
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestOptsUser(t *testing.T) {
	strict := v1.SupplementalGroupsPolicyStrict
	cases := []struct {
		name      string
		imageUser string
		pod       *v1.PodSecurityContext
		container *v1.SecurityContext
		uid, gid  uint32
		groups    []uint32
	}{
		// The image's /etc/group puts root in wheel (10) and app in wheel
		// and video (44); app is uid 1000 with primary group 1001.
		{name: "no user anywhere is root", uid: 0, gid: 0, groups: []uint32{0, 10}},
		{name: "image uid takes its group from passwd", imageUser: "1000", uid: 1000, gid: 1001, groups: []uint32{10, 44, 1001}},
		{name: "image user name", imageUser: "app", uid: 1000, gid: 1001, groups: []uint32{10, 44, 1001}},
		{name: "image uid:gid keeps only the uid, as kubelet", imageUser: "1000:5", uid: 1000, gid: 1001, groups: []uint32{10, 44, 1001}},
		{name: "uid unknown to passwd gets gid 0", imageUser: "4242", uid: 4242, gid: 0, groups: []uint32{0}},
		{name: "pod runAsUser over image", imageUser: "app", pod: &v1.PodSecurityContext{RunAsUser: ptr.To[int64](0)}, uid: 0, gid: 0, groups: []uint32{0, 10}},
		{
			name:      "container runAsUser and runAsGroup over pod's",
			pod:       &v1.PodSecurityContext{RunAsUser: ptr.To[int64](5), RunAsGroup: ptr.To[int64](6)},
			container: &v1.SecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](2000)},
			uid:       1000, gid: 2000, groups: []uint32{10, 44, 2000},
		},
		{
			name:      "pod runAsGroup with the image's user",
			imageUser: "1000",
			pod:       &v1.PodSecurityContext{RunAsGroup: ptr.To[int64](3000)},
			uid:       1000, gid: 3000, groups: []uint32{10, 44, 3000},
		},
		{
			name:      "fsGroup and supplementalGroups merged, sorted, unique",
			imageUser: "1000",
			pod:       &v1.PodSecurityContext{FSGroup: ptr.To[int64](3000), SupplementalGroups: []int64{4000, 10, 44}},
			uid:       1000, gid: 1001, groups: []uint32{10, 44, 1001, 3000, 4000},
		},
		{
			name:      "Strict policy ignores /etc/group",
			imageUser: "1000",
			pod:       &v1.PodSecurityContext{SupplementalGroupsPolicy: &strict, SupplementalGroups: []int64{4000}},
			uid:       1000, gid: 1001, groups: []uint32{1001, 4000},
		},
		{
			name:      "runAsNonRoot with a non-root user is fine",
			imageUser: "1000",
			pod:       &v1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			uid:       1000, gid: 1001, groups: []uint32{10, 44, 1001},
		},
		{
			name:      "runAsNonRoot with runAsUser set does not look at the image",
			imageUser: "app",
			container: &v1.SecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000)},
			uid:       1000, gid: 1001, groups: []uint32{10, 44, 1001},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := generate(t, testInput(func(in *Input) {
				in.Image.User = tc.imageUser
				in.Pod.Spec.SecurityContext = tc.pod
				in.Container.SecurityContext = tc.container
			}))
			u := s.Process.User
			if u.UID != tc.uid || u.GID != tc.gid {
				t.Errorf("uid:gid = %d:%d, want %d:%d", u.UID, u.GID, tc.uid, tc.gid)
			}
			if !slices.Equal(u.AdditionalGids, tc.groups) {
				t.Errorf("AdditionalGids = %v, want %v", u.AdditionalGids, tc.groups)
			}
		})
	}
}

func TestOptsUserUnknownNameFailsAtCreation(t *testing.T) {
	opts, err := Opts(testInput(func(in *Input) { in.Image.User = "nobody" }))
	if err != nil {
		t.Fatalf("Opts: %v", err)
	}
	if _, err := apply(t, opts); err == nil {
		t.Error("a user missing from the image's passwd was accepted")
	}
}

func TestOptsUserConfigErrors(t *testing.T) {
	cases := []struct {
		name      string
		imageUser string
		pod       *v1.PodSecurityContext
		container *v1.SecurityContext
		field     string
		mention   string
	}{
		{name: "runAsNonRoot and an image without user", pod: &v1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			field: "securityContext.runAsNonRoot", mention: "image will run as root"},
		{name: "runAsNonRoot and image user 0", imageUser: "0:0", container: &v1.SecurityContext{RunAsNonRoot: ptr.To(true)},
			field: "securityContext.runAsNonRoot", mention: "image will run as root"},
		{name: "runAsNonRoot and runAsUser 0", pod: &v1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](0)},
			field: "securityContext.runAsUser", mention: "breaks non-root policy"},
		{name: "runAsNonRoot and a user name", imageUser: "app", pod: &v1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			field: "securityContext.runAsNonRoot", mention: "non-numeric user (app)"},
		{name: "runAsNonRoot and an out of range image uid", imageUser: "4294967296", pod: &v1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			field: "securityContext.runAsNonRoot", mention: "invalid user id"},
		{name: "negative runAsUser", container: &v1.SecurityContext{RunAsUser: ptr.To[int64](-1)},
			field: "securityContext.runAsUser", mention: "not a valid id"},
		{name: "runAsGroup out of range", pod: &v1.PodSecurityContext{RunAsGroup: ptr.To[int64](1 << 40)},
			field: "securityContext.runAsGroup", mention: "not a valid id"},
		{name: "negative supplemental group", pod: &v1.PodSecurityContext{SupplementalGroups: []int64{5, -2}},
			field: "spec.securityContext.supplementalGroups[1]", mention: "-2"},
		{name: "fsGroup out of range", pod: &v1.PodSecurityContext{FSGroup: ptr.To[int64](1 << 33)},
			field: "spec.securityContext.fsGroup", mention: "not a valid group id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput(func(in *Input) {
				in.Image.User = tc.imageUser
				in.Pod.Spec.SecurityContext = tc.pod
				in.Container.SecurityContext = tc.container
			})
			wantConfigError(t, in, tc.field, tc.mention)
		})
	}
}

func TestContainerUser(t *testing.T) {
	cases := []struct {
		image   string
		runAs   *int64
		want    string
		wantUID *int64
	}{
		{image: "", want: "0", wantUID: ptr.To[int64](0)},
		{image: ":5", want: "0", wantUID: ptr.To[int64](0)},
		{image: "1000:1000", want: "1000", wantUID: ptr.To[int64](1000)},
		{image: "app:staff", want: "app"},
		{image: "app", runAs: ptr.To[int64](7), want: "7", wantUID: ptr.To[int64](7)},
	}
	for _, tc := range cases {
		got, uid := containerUser(v1.SecurityContext{RunAsUser: tc.runAs}, tc.image)
		if got != tc.want || (uid == nil) != (tc.wantUID == nil) || (uid != nil && *uid != *tc.wantUID) {
			t.Errorf("containerUser(%q, %v) = %q, %v; want %q, %v", tc.image, tc.runAs, got, uid, tc.want, tc.wantUID)
		}
	}
}
