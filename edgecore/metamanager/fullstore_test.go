package metamanager

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/model"
)

// fullStore runs the harness on a real bbolt store on a small tmpfs, with
// a few pods stored, then fills the filesystem. It skips without root.
func fullStore(t *testing.T) (*harness, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	h := newHarnessAt(t, filepath.Join(dir, "edgecore.db"))
	stored := map[string]string{}
	for i := 0; i < 3; i++ {
		key := fmt.Sprintf("default/pod/p%d", i)
		h.toMeta(cloudMsg(model.InsertOperation, key, pod(fmt.Sprint("u", i))))
		h.recv(model.EdgeHubModuleName)
		h.recv(model.EdgedModuleName)
		stored[key], _ = h.row(key)
	}
	fillUp(t, filepath.Join(dir, "filler"))
	return h, stored
}

// fillUp writes path until the filesystem is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// bigStatus is a status body larger than any free space left: writing it
// needs pages the full filesystem cannot give.
func bigStatus(i int) string {
	return fmt.Sprintf(`{"status":{"phase":"Running","message":%q}}`, fmt.Sprint(i)+strings.Repeat("x", 64<<10))
}

// With the data partition full, node and pod status still reach the
// cloud while the link is up: patches go up with their id (the cloud's
// answer reaches the requester) and updates are answered OK; the failed
// writes are counted; what was stored before is intact after a restart on
// the still-full filesystem.
func TestStatusGoesUpWhenTheStoreIsFull(t *testing.T) {
	h, stored := fullStore(t)
	h.setOnline(true)
	tests := []struct {
		resource, op string
		wantReply    string
	}{
		{"default/nodepatch/edge1", model.PatchOperation, `{"Object":{"metadata":{"name":"edge1"}}}`},
		{"default/podpatch/p0", model.PatchOperation, `{"Object":{"metadata":{"name":"p0"}}}`},
		{"default/podstatus/p1", model.UpdateOperation, model.AckContent},
	}
	for i, tt := range tests {
		msg := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup, tt.resource, tt.op).FillBody(bigStatus(i))
		type result struct {
			m   model.Message
			err error
		}
		res := make(chan result, 1)
		go func() {
			m, err := h.bus.SendSync(model.MetaManagerModuleName, *msg, 2*time.Second)
			res <- result{m, err}
		}()
		up := h.recv(model.EdgeHubModuleName)
		if up.ID() != msg.ID() || up.Operation() != tt.op || up.ContentText() != msg.ContentText() {
			t.Fatalf("%s: sent up %s %s %.80s, want the status itself", tt.resource, up.Operation(), up.Resource(), up.ContentText())
		}
		if tt.op == model.PatchOperation {
			h.bus.SendResp(*model.NewRespByMessage(&up, tt.wantReply))
		}
		r := <-res
		if r.err != nil || r.m.Operation() != model.ResponseOperation || r.m.ContentText() != tt.wantReply {
			t.Fatalf("%s: requester got %s %s (%v), want %s", tt.resource, r.m.Operation(), r.m.ContentText(), r.err, tt.wantReply)
		}
		if got := h.mm.StoreFailures(); got != uint64(i+1) {
			t.Fatalf("%s: %d store failures counted, want %d: the store took a status the full disk had no room for", tt.resource, got, i+1)
		}
	}
	h.restart()
	for k, v := range stored {
		if got, ok := h.row(k); !ok || got != v {
			t.Errorf("row %s = %q (%v) after the disk filled, want %q", k, got, ok, v)
		}
	}
}

// A change from the cloud that the full store cannot take still reaches
// edged, so the node acts on it, and is answered with an error instead of
// an ack, so the cloud sends it again until it is stored.
func TestCloudChangeGoesOnWhenTheStoreIsFull(t *testing.T) {
	h, _ := fullStore(t)
	msg := cloudMsg(model.InsertOperation, "default/pod/big", map[string]any{
		"metadata": map[string]any{"name": "big", "uid": "u9", "annotations": map[string]string{"a": strings.Repeat("x", 64<<10)}},
	})
	h.toMeta(msg)
	if fwd := h.recv(model.EdgedModuleName); fwd.ID() != msg.ID() {
		t.Fatalf("edged got %+v, want the pod", fwd)
	}
	reply := h.recv(model.EdgeHubModuleName)
	if reply.Operation() != model.ResponseErrorOperation || reply.ParentID() != msg.ID() || !strings.Contains(reply.ContentText(), "no space left") {
		t.Fatalf("the cloud got %s %s, want an error, not an ack", reply.Operation(), reply.ContentText())
	}
	if _, ok := h.row("default/pod/big"); ok {
		t.Fatalf("a pod the full disk had no room for is stored")
	}
	if h.mm.StoreFailures() != 1 {
		t.Fatalf("%d store failures counted, want 1", h.mm.StoreFailures())
	}
}
