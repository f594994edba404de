package podstatus

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"
)

// TestTwoWayPatchMatchesStrategicPatch: the hand-written diff gives the
// very bytes of apimachinery's CreateTwoWayMergePatch (what kubelet
// sends) over many status changes: conditions and IPs added, removed,
// changed and reordered, atomic container lists, retainKeys lists, maps.
func TestTwoWayPatchMatchesStrategicPatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		old := randomStatus(rng)
		next := old.DeepCopy()
		for range 1 + rng.IntN(4) {
			mutate(rng, next)
		}
		if rng.IntN(10) == 0 {
			fresh := randomStatus(rng)
			next = &fresh
		}
		oldJSON, err := json.Marshal(v1.Pod{Status: old})
		if err != nil {
			t.Fatal(err)
		}
		newJSON, err := json.Marshal(v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(fmt.Sprint("uid-", i))}, Status: *next})
		if err != nil {
			t.Fatal(err)
		}
		want, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, v1.Pod{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := twoWayPatch(oldJSON, newJSON)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("case %d:\n old %s\n new %s\n got %s\nwant %s", i, oldJSON, newJSON, got, want)
		}
	}
}

func pick[T any](rng *rand.Rand, from ...T) T { return from[rng.IntN(len(from))] }

// subset is a random selection of from in random order.
func subset[T any](rng *rand.Rand, from []T) []T {
	var out []T
	for _, i := range rng.Perm(len(from)) {
		if rng.IntN(2) == 0 {
			out = append(out, from[i])
		}
	}
	return out
}

var (
	condTypes = []v1.PodConditionType{v1.PodReadyToStartContainers, v1.PodInitialized, v1.PodReady, v1.ContainersReady, v1.PodScheduled, "example.com/gate"}
	someIPs   = []string{"10.88.0.5", "10.88.0.6", "fd00::5", "192.168.1.10", "fd01::10"}
)

func randomCondition(rng *rand.Rand, t v1.PodConditionType) v1.PodCondition {
	c := v1.PodCondition{Type: t, Status: pick(rng, v1.ConditionTrue, v1.ConditionFalse, v1.ConditionUnknown),
		LastTransitionTime: metav1.NewTime(t0.Add(time.Duration(rng.IntN(3)) * time.Hour))}
	if c.Status != v1.ConditionTrue {
		c.Reason = pick(rng, "", ContainersNotReady, PodCompleted)
		c.Message = pick(rng, "", "containers with unready status: [app]", "<&>")
	}
	if rng.IntN(4) == 0 {
		c.ObservedGeneration = rng.Int64N(1 << 62)
	}
	return c
}

func randomContainer(rng *rand.Rand, name string) v1.ContainerStatus {
	st := v1.ContainerStatus{Name: name, Image: name + ":1", RestartCount: rng.Int32N(3), Ready: rng.IntN(2) == 0, Started: ptr.To(rng.IntN(2) == 0)}
	switch rng.IntN(3) {
	case 0:
		st.State.Waiting = &v1.ContainerStateWaiting{Reason: pick(rng, ContainerCreating, "CrashLoopBackOff")}
	case 1:
		st.State.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(t0)}
	default:
		st.State.Terminated = &v1.ContainerStateTerminated{ExitCode: rng.Int32N(2), Reason: "Error", ContainerID: "containerd://" + name}
	}
	return st
}

func randomStatus(rng *rand.Rand) v1.PodStatus {
	s := v1.PodStatus{
		Phase:    pick(rng, v1.PodPending, v1.PodRunning, v1.PodSucceeded, ""),
		Reason:   pick(rng, "", "Evicted"),
		PodIP:    pick(rng, "", "10.88.0.5"),
		HostIP:   pick(rng, "", "192.168.1.10"),
		QOSClass: pick(rng, v1.PodQOSBestEffort, ""),
	}
	if rng.IntN(2) == 0 {
		s.StartTime = ptr.To(metav1.NewTime(t0))
	}
	for _, t := range subset(rng, condTypes) {
		s.Conditions = append(s.Conditions, randomCondition(rng, t))
	}
	for _, ip := range subset(rng, someIPs) {
		s.PodIPs = append(s.PodIPs, v1.PodIP{IP: ip})
	}
	for _, ip := range subset(rng, someIPs) {
		s.HostIPs = append(s.HostIPs, v1.HostIP{IP: ip})
	}
	for _, n := range subset(rng, []string{"app", "side"}) {
		s.ContainerStatuses = append(s.ContainerStatuses, randomContainer(rng, n))
	}
	for _, n := range subset(rng, []string{"a", "b", "c"}) {
		c := v1.PodResourceClaimStatus{Name: n}
		if rng.IntN(2) == 0 {
			c.ResourceClaimName = ptr.To(pick(rng, "claim-1", "claim-2"))
		}
		s.ResourceClaimStatuses = append(s.ResourceClaimStatuses, c)
	}
	for _, n := range subset(rng, []string{"x", "y"}) {
		na := v1.NodeAllocatableResourceClaimStatus{ResourceClaimName: n, Containers: subset(rng, []string{"app", "side"})}
		for _, r := range subset(rng, []v1.ResourceName{"cpu", "memory"}) {
			na.Mapping = append(na.Mapping, v1.NodeAllocatableMappedResources{Name: r, Quantity: ptr.To(resource.MustParse(pick(rng, "1", "2Gi")))})
		}
		s.NodeAllocatableResourceClaimStatuses = append(s.NodeAllocatableResourceClaimStatuses, na)
	}
	if rng.IntN(3) == 0 {
		s.AllocatedResources = v1.ResourceList{}
		for _, r := range subset(rng, []v1.ResourceName{"cpu", "memory"}) {
			s.AllocatedResources[r] = resource.MustParse(pick(rng, "100m", "64Mi"))
		}
	}
	return s
}

// mutate makes one small change of the kinds status updates make.
func mutate(rng *rand.Rand, s *v1.PodStatus) {
	switch rng.IntN(9) {
	case 0:
		s.Phase = pick(rng, v1.PodPending, v1.PodRunning, v1.PodFailed)
	case 1:
		if len(s.Conditions) > 0 {
			i := rng.IntN(len(s.Conditions))
			s.Conditions[i] = randomCondition(rng, s.Conditions[i].Type)
		}
	case 2:
		if len(s.Conditions) > 0 {
			i := rng.IntN(len(s.Conditions))
			s.Conditions = append(s.Conditions[:i], s.Conditions[i+1:]...)
		}
	case 3:
		rng.Shuffle(len(s.Conditions), func(i, j int) { s.Conditions[i], s.Conditions[j] = s.Conditions[j], s.Conditions[i] })
	case 4:
		s.PodIPs = nil
		for _, ip := range subset(rng, someIPs) {
			s.PodIPs = append(s.PodIPs, v1.PodIP{IP: ip})
		}
	case 5:
		if len(s.ContainerStatuses) > 0 {
			s.ContainerStatuses[0] = randomContainer(rng, s.ContainerStatuses[0].Name)
		}
	case 6:
		if len(s.ResourceClaimStatuses) > 0 {
			i := rng.IntN(len(s.ResourceClaimStatuses))
			s.ResourceClaimStatuses[i].ResourceClaimName = pick(rng, nil, ptr.To("claim-3"))
		}
	case 7:
		if len(s.NodeAllocatableResourceClaimStatuses) > 0 {
			na := &s.NodeAllocatableResourceClaimStatuses[0]
			na.Mapping = append(na.Mapping, v1.NodeAllocatableMappedResources{Name: "gpu", Quantity: ptr.To(resource.MustParse("1"))})
			na.Containers = nil
		}
	default:
		s.StartTime, s.Message = nil, "changed"
	}
}
