package flood

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// rssBound is the most edgecore may hold resident at any moment of the
// flood: its idle footprint (about 29 MiB, 22 MiB of it the binary's own
// pages) plus one frame being read, one in each bounded queue on the way
// and one being handled, within the Go runtime's soft memory limit.
const rssBound = 64 << 10 // kB

const (
	// frameSize is the largest frame the link hands upward by default.
	frameSize = config.DefaultMaxMessageSize
	// objectSize is the largest object a Kubernetes API server stores
	// (etcd's default request limit, 1.5 MiB): the largest insert a real
	// cloud sends, which metamanager stores.
	objectSize = 3 << 19
)

// shape is a body that is as costly as JSON gets to hold as Go values:
// over 40 times its size as maps, slices and interfaces.
type shape struct {
	name           string
	first, closing string
	elem           func(i int) string
}

var shapes = []shape{
	{name: "array of empty objects", first: "[{}", closing: "]", elem: func(int) string { return ",{}" }},
	{name: "object of small members", first: `{"k":0`, closing: "}", elem: func(i int) string { return `,"k` + strconv.Itoa(i) + `":0` }},
}

// frame returns a valid cloud frame of at most size bytes, as cloudhub
// writes them (JSON and a newline): edgecontroller's op on pod
// default/<name> at resourceVersion rv, its body s filled to the size.
func frame(id, op, name string, rv int, s shape, size int) []byte {
	var b bytes.Buffer
	b.Grow(size)
	fmt.Fprintf(&b, `{"header":{"msg_id":%q,"timestamp":%d,"resourceversion":"%d"},`+
		`"route":{"source":"edgecontroller","group":"resource","operation":%q,"resource":"default/pod/%s"},"content":%s`,
		id, time.Now().UnixMilli(), rv, op, name, s.first)
	tail := len(s.closing) + len("}\n")
	for i := 0; ; i++ {
		e := s.elem(i)
		if b.Len()+len(e)+tail > size {
			break
		}
		b.WriteString(e)
	}
	b.WriteString(s.closing + "}\n")
	return b.Bytes()
}

// TestCloudFloodKeepsMemoryBounded sends a running edgecore the worst
// valid frames: 8 MiB (the frame limit) of tiny JSON values each, first
// one at a time, then a flood as fast as the link takes them, then a flood
// of the largest objects a cloud stores (1.5 MiB) built the same way. All
// are pod messages for metamanager. The frames at the limit are deletes of
// a pod the node does not have (cloudcore's deletes carry the object), so
// they cross the link, the decoder and the bus and are acknowledged; the
// objects are inserts, which metamanager stores. edgecore's resident set
// must stay under 64 MiB at every moment (the kernel's high-water mark,
// VmHWM), the first link must stay up, and a normal pod must still get
// through and be acknowledged.
func TestCloudFloodKeepsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("floods edgecore with hundreds of MiB; not under -short")
	}
	cloud := testcloud.ForTest(t, testcloud.Options{})
	n := startNode(t, cloud, "flood-1")
	waitCloud(t, cloud, "connected", 30*time.Second, func(v *testcloud.View) bool { return v.Connected(n.name) })
	idle := n.memory(t)
	t.Logf("connected: VmRSS %d kB (anonymous %d kB)", idle["VmRSS"], idle["RssAnon"])

	rv := 1000
	var ids []string
	send := func(op, name string, s shape, size int) {
		t.Helper()
		rv++
		id := fmt.Sprintf("flood-%d", rv)
		f := frame(id, op, name, rv, s, size)
		if len(f) > size || len(f) < size-64 {
			t.Fatalf("frame of %d bytes, want just under %d", len(f), size)
		}
		if err := cloud.SendRaw(n.name, f); err != nil {
			t.Fatalf("frame %s (%s): %v", id, s.name, err)
		}
		ids = append(ids, id)
	}
	start := time.Now()
	for i := range 4 * len(shapes) {
		send(model.DeleteOperation, "absent", shapes[i%len(shapes)], frameSize)
		time.Sleep(100 * time.Millisecond) // one at a time: each decoded alone
	}
	for i := range 40 {
		send(model.DeleteOperation, "absent", shapes[i%len(shapes)], frameSize)
	}
	for i := range 40 {
		send(model.InsertOperation, "large", shapes[i%len(shapes)], objectSize)
	}
	t.Logf("%d frames written in %s", len(ids), time.Since(start).Round(time.Millisecond))

	// A normal pod after the flood reaches the edge and is acknowledged.
	pod := testcloud.PodMessage(model.InsertOperation, "default", "after-flood", "uid-after", strconv.Itoa(rv+1),
		map[string]any{"nodeName": n.name, "containers": []any{map[string]any{"name": "c", "image": "nginx"}}})
	if err := cloud.Send(n.name, pod); err != nil {
		t.Fatal(err)
	}
	waitCloud(t, cloud, "the pod after the flood acknowledged", 2*time.Minute, func(v *testcloud.View) bool { return v.Acks(pod.ID()) > 0 })

	if !n.running() {
		t.Fatal("edgecore exited during the flood")
	}
	mem := n.memory(t)
	bus := n.busStatus(t)
	var acked, connects int
	cloud.Inspect(func(v *testcloud.View) {
		for _, id := range ids {
			if v.Acks(id) > 0 {
				acked++
			}
		}
		connects = v.Connects(n.name)
	})
	t.Logf("after the flood: VmHWM %d kB (the peak), VmRSS %d kB (anonymous %d kB, file %d kB); %d of %d frames acknowledged, %d shed by the bus",
		mem["VmHWM"], mem["VmRSS"], mem["RssAnon"], mem["RssFile"], acked, len(ids), bus.Shed)
	if connects != 1 {
		t.Errorf("the link was re-established %d times during the flood; want the first link kept", connects-1)
	}
	if mem["VmHWM"] > rssBound {
		t.Errorf("edgecore's resident set peaked at %d kB during the flood, over the %d kB bound", mem["VmHWM"], rssBound)
	}
}
