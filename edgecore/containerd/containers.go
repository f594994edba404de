package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Labels edged keeps on its containers: who they belong to, and what the
// kubelet would keep in its memory (attempt, spec hash, how it ended), so
// that an edgecore restart loses nothing.
const (
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelContainerName = "io.kubernetes.container.name"
	LabelAttempt       = "io.edgegate.container.attempt"
	LabelHash          = "io.edgegate.container.hash"
	LabelInit          = "io.edgegate.container.init"
	LabelImageID       = "io.edgegate.container.image-id"
	LabelStarted       = "io.edgegate.container.started"
	LabelExit          = "io.edgegate.container.exit"
)

// specTypeURL is the type containerd's client gives a container's OCI
// spec (stored as JSON), which the daemon and ctr expect.
const specTypeURL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"

// Exit is how a container ended, kept in its LabelExit.
type Exit struct {
	Code       int32     `json:"code"`
	Signal     int32     `json:"signal,omitempty"`
	Reason     string    `json:"reason"` // Completed, Error, OOMKilled, ContainerCannotRun
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// State of a container as List reports it.
type State int

// Container states.
const (
	Created State = iota // created, never started or start failed
	Running
	Exited
)

// Container is one of edged's containers.
type Container struct {
	ID        string
	Labels    map[string]string
	Image     string
	CreatedAt time.Time
	State     State
	StartedAt time.Time
	Exit      *Exit // when Exited
}

// Attempt is the container's LabelAttempt.
func (c Container) Attempt() int {
	n, _ := strconv.Atoi(c.Labels[LabelAttempt])
	return n
}

// Create makes a container (not started) from img with the spec opts: a
// new snapshot of the image's layers as its root filesystem, and the OCI
// spec containerd's defaults and opts give. The pod's options set the
// process outright (argv, working directory, environment, user), so the
// image's configuration reaches the spec through them.
func (r *Runtime) Create(ctx context.Context, id string, img Image, labels map[string]string, opts []oci.SpecOpts) error {
	labels = withLabel(labels, LabelImageID, ImageRepoDigest(img))
	ctx, done, err := r.withLease(ctx)
	if err != nil {
		return fmt.Errorf("create container %s: %w", id, err)
	}
	defer done()
	if _, err := r.snapshots.Prepare(ctx, id, img.chainID); err != nil {
		return fmt.Errorf("create container %s: snapshot: %w", id, err)
	}
	c := containers.Container{
		ID: id, Labels: labels, Image: img.Ref,
		Runtime:     containers.RuntimeInfo{Name: r.s.Runtime},
		Snapshotter: r.s.Snapshotter, SnapshotKey: id,
	}
	spec, err := oci.GenerateSpec(ctx, snapshotClient{r}, &c, opts...)
	if err != nil {
		return fmt.Errorf("create container %s: %w", id, err)
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("create container %s: spec: %w", id, err)
	}
	_, err = r.containers.Create(ctx, &containersapi.CreateContainerRequest{Container: &containersapi.Container{
		ID: id, Labels: labels, Image: c.Image,
		Runtime:     &containersapi.Container_Runtime{Name: c.Runtime.Name},
		Spec:        &anypb.Any{TypeUrl: specTypeURL, Value: raw},
		Snapshotter: c.Snapshotter, SnapshotKey: c.SnapshotKey,
	}})
	if err != nil {
		return fmt.Errorf("create container %s: %w", id, errgrpc.ToNative(err))
	}
	return nil
}

// snapshotClient gives spec options (the image user's lookup) the
// snapshotter of the container's root filesystem.
type snapshotClient struct{ r *Runtime }

func (c snapshotClient) SnapshotService(string) snapshots.Snapshotter { return c.r.snapshots }

func withLabel(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// container reads a container's record.
func (r *Runtime) container(ctx context.Context, id string) (*containersapi.Container, error) {
	resp, err := r.containers.Get(ctx, &containersapi.GetContainerRequest{ID: id})
	if err != nil {
		return nil, errgrpc.ToNative(err)
	}
	return resp.GetContainer(), nil
}

// spec decodes a container's OCI spec.
func spec(c *containersapi.Container) (*oci.Spec, error) {
	var s oci.Spec
	if err := json.Unmarshal(c.GetSpec().GetValue(), &s); err != nil {
		return nil, fmt.Errorf("container %s: spec: %w", c.GetID(), err)
	}
	return &s, nil
}

// setLabels adds or replaces the given labels, leaving the others.
func (r *Runtime) setLabels(ctx context.Context, id string, labels map[string]string) error {
	mask := &fieldmaskpb.FieldMask{}
	for k := range labels {
		mask.Paths = append(mask.Paths, "labels."+k)
	}
	_, err := r.containers.Update(ctx, &containersapi.UpdateContainerRequest{
		Container:  &containersapi.Container{ID: id, Labels: labels},
		UpdateMask: mask,
	})
	return errgrpc.ToNative(err)
}

// Remove deletes a container that is not running, with its snapshot.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	c, err := r.container(ctx, id)
	if err != nil {
		return ignoreNotFound(err)
	}
	if err := r.deleteTask(ctx, id, true, nil); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: task: %w", id, err)
	}
	if key := c.GetSnapshotKey(); key != "" {
		if err := r.snapshots.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove %s: snapshot %s: %w", id, key, err)
		}
	}
	if _, err := r.containers.Delete(ctx, &containersapi.DeleteContainerRequest{ID: id}); err != nil {
		if err := errgrpc.ToNative(err); !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove %s: %w", id, err)
		}
	}
	return nil
}

func ignoreNotFound(err error) error {
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// List returns edged's containers (those with a pod UID label) and their
// states; those of one pod only when podUID is set (containerd filters
// them: a pod's sync must not cost a query per container of the node).
func (r *Runtime) List(ctx context.Context, podUID string) ([]Container, error) {
	filter := fmt.Sprintf("labels.%q", LabelPodUID)
	if podUID != "" {
		filter = fmt.Sprintf("labels.%q==%q", LabelPodUID, podUID)
	}
	ctns, err := r.listContainers(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]Container, 0, len(ctns))
	for _, ctn := range ctns {
		labels := ctn.GetLabels()
		c := Container{ID: ctn.GetID(), Labels: labels, Image: ctn.GetImage(), CreatedAt: ctn.GetCreatedAt().AsTime()}
		c.StartedAt, _ = time.Parse(time.RFC3339Nano, labels[LabelStarted])
		if raw := labels[LabelExit]; raw != "" {
			var e Exit
			if json.Unmarshal([]byte(raw), &e) == nil {
				c.State, c.Exit = Exited, &e
			}
		}
		if c.State != Exited {
			c.State = r.taskState(ctx, c.ID)
		}
		out = append(out, c)
	}
	return out, nil
}

// listContainers returns the containers matching any of filters (all
// without one).
func (r *Runtime) listContainers(ctx context.Context, filters ...string) ([]*containersapi.Container, error) {
	resp, err := r.containers.List(ctx, &containersapi.ListContainersRequest{Filters: filters})
	if err != nil {
		return nil, errgrpc.ToNative(err)
	}
	return resp.GetContainers(), nil
}
