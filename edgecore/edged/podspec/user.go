package podspec

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/containerd/imageuser"
)

// userOpts sets the process's uid, gid and supplementary groups the way
// kubelet and containerd's CRI plugin do together:
//   - the user is the effective runAsUser, else the user part of the image's
//     USER (uid or name; its group part is ignored, as kubelet does), else
//     root; runAsGroup, when set, is the group;
//   - "uid:gid" is set as it is; a uid alone takes its primary group from the
//     image's /etc/passwd (0 when it is not there), and a name is looked up
//     there, both at creation by imageuser.WithUser (containerd's
//     oci.WithUser, reading the image's files without linking its
//     template engine);
//   - the supplementary groups are the user's groups in the image's
//     /etc/group (unless supplementalGroupsPolicy is Strict), the pod's
//     fsGroup and supplementalGroups, and the primary group, sorted.
//
// runAsNonRoot is verified as kubelet does; a violation is a *ConfigError.
func userOpts(pod *v1.Pod, c *v1.Container, img ocispec.ImageConfig) ([]oci.SpecOpts, error) {
	sc := effectiveSecurityContext(pod, c)
	if err := checkIDs(c.Name, sc); err != nil {
		return nil, err
	}
	user, uid := containerUser(sc, img.User)
	if err := verifyRunAsNonRoot(c.Name, sc, user, uid); err != nil {
		return nil, err
	}
	userstr := user
	if sc.RunAsGroup != nil {
		userstr += ":" + strconv.FormatInt(*sc.RunAsGroup, 10)
	}
	opts := []oci.SpecOpts{imageuser.WithUser(userstr)}
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.SupplementalGroupsPolicy == nil || *psc.SupplementalGroupsPolicy != v1.SupplementalGroupsPolicyStrict {
		opts = append(opts, withImageGroups(user))
	}
	extra, err := podGroups(c.Name, psc)
	if err != nil {
		return nil, err
	}
	return append(opts, withAdditionalGIDs(extra)), nil
}

// podGroups returns the pod's fsGroup and supplementalGroups.
func podGroups(container string, psc *v1.PodSecurityContext) ([]uint32, error) {
	if psc == nil {
		return nil, nil
	}
	var gids []uint32
	add := func(field string, gid int64) error {
		if gid < 0 || gid > math.MaxInt32 {
			return configError(container, field, "%d is not a valid group id (0-%d)", gid, math.MaxInt32)
		}
		gids = append(gids, uint32(gid))
		return nil
	}
	if psc.FSGroup != nil {
		if err := add("spec.securityContext.fsGroup", *psc.FSGroup); err != nil {
			return nil, err
		}
	}
	for i, g := range psc.SupplementalGroups {
		if err := add(fmt.Sprintf("spec.securityContext.supplementalGroups[%d]", i), g); err != nil {
			return nil, err
		}
	}
	return gids, nil
}

// containerUser returns the user the container runs as (a uid or a name)
// and the uid when it is numeric, as kubelet derives it.
func containerUser(sc v1.SecurityContext, imageUser string) (string, *int64) {
	if sc.RunAsUser != nil {
		return strconv.FormatInt(*sc.RunAsUser, 10), sc.RunAsUser
	}
	user, _, _ := strings.Cut(imageUser, ":")
	if user == "" {
		return "0", new(int64)
	}
	if uid, err := strconv.ParseInt(user, 10, 64); err == nil {
		return user, &uid
	}
	return user, nil
}

// verifyRunAsNonRoot is kubelet's check, with its messages.
func verifyRunAsNonRoot(container string, sc v1.SecurityContext, user string, uid *int64) error {
	if !isTrue(sc.RunAsNonRoot) {
		return nil
	}
	switch {
	case sc.RunAsUser != nil && *sc.RunAsUser == 0:
		return configError(container, "securityContext.runAsUser", "container's runAsUser breaks non-root policy")
	case sc.RunAsUser != nil:
		return nil
	case uid == nil:
		return configError(container, "securityContext.runAsNonRoot",
			"container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root", user)
	case *uid == 0:
		return configError(container, "securityContext.runAsNonRoot", "container has runAsNonRoot and image will run as root")
	case *uid < 0 || *uid > math.MaxInt32:
		return configError(container, "securityContext.runAsNonRoot",
			"container has runAsNonRoot and image has an invalid user id (%d), must be 1-%d", *uid, math.MaxInt32)
	}
	return nil
}

// checkIDs refuses ids the runtime cannot use (the API server refuses them
// too, so this only guards against pods that skipped validation).
func checkIDs(container string, sc v1.SecurityContext) error {
	ids := []struct {
		field string
		id    *int64
	}{
		{"securityContext.runAsUser", sc.RunAsUser},
		{"securityContext.runAsGroup", sc.RunAsGroup},
	}
	for _, x := range ids {
		if x.id != nil && (*x.id < 0 || *x.id > math.MaxInt32) {
			return configError(container, x.field, "%d is not a valid id (0-%d)", *x.id, math.MaxInt32)
		}
	}
	return nil
}

// withImageGroups adds the groups the image's /etc/group lists user in
// (containerd CRI's Merge policy).
func withImageGroups(user string) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		before := slices.Clone(s.Process.User.AdditionalGids)
		if err := imageuser.WithAdditionalGIDs(user)(ctx, client, c, s); err != nil {
			return err
		}
		s.Process.User.AdditionalGids = mergeGIDs(s.Process.User.AdditionalGids, before)
		return nil
	}
}

// withAdditionalGIDs adds gids, and the primary group, to the supplementary
// groups, keeping them sorted and unique as containerd does.
func withAdditionalGIDs(gids []uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		u := &s.Process.User
		u.AdditionalGids = mergeGIDs(u.AdditionalGids, append([]uint32{u.GID}, gids...))
		return nil
	}
}

func mergeGIDs(a, b []uint32) []uint32 {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
