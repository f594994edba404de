package edged

import (
	"context"
	"errors"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/containerd"
)

// ensureImage is the runtime's EnsureImage with the kubelet's image
// events: Pulled "already present" for an image that is there and need
// not be pulled; otherwise Pulling, then Pulled with the time the pull
// took, or Failed with why.
func (w *worker) ensureImage(ctx context.Context, pod *v1.Pod, c *v1.Container, keyring containerd.Keyring) (containerd.Image, error) {
	policy := containerd.PullPolicy(c.ImagePullPolicy)
	if !pullsAlways(c.Image, policy) {
		img, err := w.m.rt.EnsureImage(ctx, c.Image, containerd.PullNever, keyring)
		if err == nil {
			w.m.containerEvent(pod, c, "", v1.EventTypeNormal, eventPulled, "Container image %q already present on machine", c.Image)
			return img, nil
		}
		if !errors.Is(err, containerd.ErrNeverPull) || policy == containerd.PullNever {
			return img, err
		}
	}
	w.m.containerEvent(pod, c, "", v1.EventTypeNormal, eventPulling, "Pulling image %q", c.Image)
	start := time.Now()
	img, err := w.m.rt.EnsureImage(ctx, c.Image, policy, keyring)
	if err != nil {
		w.m.containerEvent(pod, c, "", v1.EventTypeWarning, eventFailed, "Failed to pull image %q: %v", c.Image, err)
		return img, err
	}
	took := time.Since(start).Truncate(time.Millisecond)
	w.m.containerEvent(pod, c, "", v1.EventTypeNormal, eventPulled, "Successfully pulled image %q in %v (%v including waiting)", c.Image, took, took)
	return img, nil
}

// pullsAlways reports whether the policy pulls even a present image:
// Always, or no policy for an image by the tag latest or no tag (the API
// server's defaulting, for pods that reach the edge without it).
func pullsAlways(image string, policy containerd.PullPolicy) bool {
	if policy != "" {
		return policy == containerd.PullAlways
	}
	ref, err := containerd.NormalizeRef(image)
	return err == nil && !strings.Contains(ref, "@") && strings.HasSuffix(ref, ":latest")
}

// pullFailedNow starts or lengthens the image's back-off after a failed
// pull, and records it as the kubelet does: Failed "Error: ErrImagePull".
func (w *worker) pullFailedNow(pod *v1.Pod, c *v1.Container, key string) {
	now := time.Now()
	w.m.backoff.Next(key, now)
	w.pullFailed[c.Name] = now
	w.m.containerFailed(pod, c, "", reasonErrImagePull)
}
