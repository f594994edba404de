package podstatus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrIllegalTransition is returned for a status that takes a container
// out of a terminated state its restart policy does not restart it from.
// Kubelet drops such a status as its own bug; so should the caller.
var ErrIllegalTransition = errors.New("illegal container state transition")

// Patch returns the strategic-merge patch kubelet's status manager sends
// to move pod's status to newStatus (statusutil.PatchPodStatus after
// mergePodStatus), and whether it changes anything. The patch carries
// pod's uid, which the apiserver holds immutable: a patch for a pod since
// deleted and recreated under the same name is refused (422 Invalid,
// metadata.uid), and the status must be rebuilt from the pod the
// apiserver has now.
//
// pod is the pod as the apiserver last returned it; the patch is the
// difference from its status, so the fresher it is, the less the patch
// can miss. As kubelet does before a patch, Patch keeps the conditions
// that others own and the fields kubelet does not set from pod's status,
// and holds back a terminal phase while newStatus still has a running
// container.
func Patch(pod *v1.Pod, newStatus v1.PodStatus) (patch []byte, changed bool, err error) {
	if pod.UID == "" {
		return nil, false, fmt.Errorf("status patch of pod %s/%s: the pod has no uid", pod.Namespace, pod.Name)
	}
	if err := CheckTransition(pod, &newStatus); err != nil {
		return nil, false, fmt.Errorf("status patch of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	merged := merge(&pod.Status, newStatus.DeepCopy())
	oldJSON, err := json.Marshal(v1.Pod{Status: pod.Status})
	if err != nil {
		return nil, false, fmt.Errorf("status patch of pod %s/%s: encode old status: %w", pod.Namespace, pod.Name, err)
	}
	// The uid is only in the new object, so that it is in the patch.
	newJSON, err := json.Marshal(v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: pod.UID}, Status: *merged})
	if err != nil {
		return nil, false, fmt.Errorf("status patch of pod %s/%s: encode new status: %w", pod.Namespace, pod.Name, err)
	}
	patch, err = twoWayPatch(oldJSON, newJSON)
	if err != nil {
		return nil, false, fmt.Errorf("status patch of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	uidOnly := fmt.Sprintf(`{"metadata":{"uid":%q}}`, pod.UID)
	return patch, !bytes.Equal(patch, []byte(uidOnly)), nil
}

// CheckTransition is kubelet's checkContainerStateTransition: an error
// wrapping ErrIllegalTransition when newStatus has a container leave the
// terminated state pod's status has it in, unless the restart policy
// restarts it (Always; OnFailure after a failure; sidecars always).
func CheckTransition(pod *v1.Pod, newStatus *v1.PodStatus) error {
	spec := &pod.Spec
	if spec.RestartPolicy == v1.RestartPolicyAlways {
		return nil
	}
	for _, old := range pod.Status.ContainerStatuses {
		if err := checkLeavesTerminated(spec.RestartPolicy, &old, newStatus.ContainerStatuses, "container"); err != nil {
			return err
		}
	}
	for _, old := range pod.Status.InitContainerStatuses {
		c := findContainer(spec.InitContainers, old.Name)
		if c == nil {
			return fmt.Errorf("%w: init container %s has a status but is not in the pod's spec", ErrIllegalTransition, old.Name)
		}
		if isSidecar(c) {
			continue
		}
		if err := checkLeavesTerminated(spec.RestartPolicy, &old, newStatus.InitContainerStatuses, "init container"); err != nil {
			return err
		}
	}
	return nil
}

func checkLeavesTerminated(policy v1.RestartPolicy, old *v1.ContainerStatus, news []v1.ContainerStatus, what string) error {
	t := old.State.Terminated
	if t == nil || (t.ExitCode != 0 && policy == v1.RestartPolicyOnFailure) {
		return nil
	}
	if n := findStatus(news, old.Name); n != nil && n.State.Terminated == nil {
		return fmt.Errorf("%w: terminated %s %s would be reported as not terminated", ErrIllegalTransition, what, old.Name)
	}
	return nil
}

func findContainer(cs []v1.Container, name string) *v1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// merge is kubelet's mergePodStatus: conditions others own come from the
// apiserver's status (old), those the kubelet owns from the new one;
// fields the kubelet does not set are the apiserver's; a pod does not turn
// terminal while it may still have running containers; a terminal pod is
// not ready.
func merge(old, s *v1.PodStatus) *v1.PodStatus {
	conds := make([]v1.PodCondition, 0, len(old.Conditions)+len(s.Conditions))
	for _, c := range old.Conditions {
		if !ownedByKubelet(c.Type) {
			conds = append(conds, c)
		}
	}
	toTerminal := !IsTerminal(old.Phase) && IsTerminal(s.Phase)
	running := anyRunning(s)
	for _, c := range s.Conditions {
		switch {
		case ownedByKubelet(c.Type):
			conds = append(conds, c)
		case c.Type == v1.DisruptionTarget && toTerminal && !running:
			// Sent only with the terminal phase it explains.
			conds = replaceOrAppend(conds, c)
		}
	}
	s.Conditions = conds
	keepOthersFields(old, s)
	if toTerminal && running {
		s.Phase, s.Reason, s.Message = old.Phase, old.Reason, old.Message
	}
	if IsTerminal(s.Phase) {
		unready(s)
	}
	return s
}

// keepOthersFields leaves as the apiserver has them the status fields
// kubelet v1.32 does not set: the resource claim statuses (the scheduler's
// and the DRA controller's) and what later Kubernetes versions added. A
// v1.32 kubelet does not even know the latter, so its patches never touch
// them.
func keepOthersFields(old, s *v1.PodStatus) {
	s.ResourceClaimStatuses = old.ResourceClaimStatuses
	s.ObservedGeneration = old.ObservedGeneration
	s.ExtendedResourceClaimStatus = old.ExtendedResourceClaimStatus
	s.AllocatedResources = old.AllocatedResources
	s.Resources = old.Resources
	s.NodeAllocatableResourceClaimStatuses = old.NodeAllocatableResourceClaimStatuses
	s.VolumeHealth = old.VolumeHealth
}

// unready makes Ready and ContainersReady of a terminal pod false, for the
// phase's reason, if either is still true (kubelet's
// podutil.UpdatePodCondition: a condition whose status changes is dated
// now).
func unready(s *v1.PodStatus) {
	ready := findCondition(s.Conditions, v1.PodReady)
	containers := findCondition(s.Conditions, v1.ContainersReady)
	if !isTrue(ready) && !isTrue(containers) {
		return
	}
	now := metav1.Now()
	for _, t := range []v1.PodConditionType{v1.ContainersReady, v1.PodReady} {
		c := terminalCondition(t, s.Phase)
		c.LastTransitionTime = now
		if cur := findCondition(s.Conditions, t); cur != nil && cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
		s.Conditions = replaceOrAppend(s.Conditions, c)
	}
}

func isTrue(c *v1.PodCondition) bool {
	return c != nil && c.Status == v1.ConditionTrue
}

// anyRunning reports a container in state running: the pod may still use
// what it holds, so it is not terminal yet.
func anyRunning(s *v1.PodStatus) bool {
	for _, list := range [][]v1.ContainerStatus{s.InitContainerStatuses, s.ContainerStatuses, s.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].State.Running != nil {
				return true
			}
		}
	}
	return false
}
