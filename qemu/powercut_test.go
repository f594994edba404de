package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/metamanager"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
	"github.com/edgegate/edgegate/image"
)

// Power-cut test parameters: enough acknowledged writes that the cut lands
// in the middle of a burst, with a window of writes in flight.
const (
	powerCutAckedBeforeCut = 120
	powerCutInFlight       = 24
	powerCutNamespace      = "powercut"
)

// TestStorePowerCut cuts the power of a gateway (QEMU killed, so whatever
// the guest kernel had not yet written to its disk is gone) in the middle
// of a burst of objects from the cloud. Every object the edge acknowledged
// before the cut must be in its store afterwards: an ack is a promise that
// the object survives, and only a write that reached the disk keeps it.
// SIGKILL of edgecore alone cannot show this, because the guest kernel
// keeps what was written without fsync. The gateway then boots again and
// rejoins with the same store.
func TestStorePowerCut(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	b, err := boards.Lookup("qemu-arm64")
	if err != nil {
		t.Fatal(err)
	}
	cloud := testcloud.ForTest(t, testcloud.Options{})
	token, err := cloud.Token(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const node = "gw-powercut"
	disk := filepath.Join(t.TempDir(), "gw.img")
	if _, err := image.Build(context.Background(), image.Options{
		Board: b, Version: "test", Output: disk, Cache: testCache(t), Containerd: true, Edgecore: true,
		EdgecoreConfig: joinEdgecoreConfig(t, node, cloud, token, "    enable: false\n"), // only the modules that store cloud objects
	}); err != nil {
		t.Fatal(err)
	}
	m := start(t, b, disk, Direct)
	connected := `edgehub: connected to ` + strings.ReplaceAll(guestAddr(t, cloud.WSServer()), ".", `\.`) + ` as ` + node
	expectWithin(t, m, connected, ctrdTimeout)

	acked, sent := burstUntilCut(t, cloud, node, m)
	t.Logf("power cut after %d objects sent, %d acknowledged", sent, len(acked))

	part := partition(t, disk, 4)
	replayJournal(t, part)
	missing := missingFromStore(t, part, acked)
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged objects are not in the store after the power cut, e.g. %s",
			len(missing), len(acked), strings.Join(missing[:min(5, len(missing))], ", "))
	}

	m = start(t, b, disk, Direct)
	expectWithin(t, m, connected, ctrdTimeout)
	if c := m.Console.String(); strings.Contains(c, "service edgecore exited") {
		t.Errorf("edgecore exited after the power cut:\n%s", tail(c, 60))
	}
	powerdown(t, m)
}

// burstUntilCut sends configmaps to node, keeping a window of them
// unacknowledged, and kills the machine once enough were acknowledged,
// while writes are still under way. It returns the resources acknowledged
// before the cut and how many were sent.
func burstUntilCut(t *testing.T, cloud *testcloud.Cloud, node string, m *Machine) (acked []string, sent int) {
	t.Helper()
	type out struct{ id, resource string }
	var unacked []out
	deadline := time.Now().Add(3 * time.Minute)
	for len(acked) < powerCutAckedBeforeCut {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d objects acknowledged in 3 minutes", len(acked), sent)
		}
		for len(unacked) < powerCutInFlight {
			msg := powerCutObject(sent)
			if err := cloud.Send(node, msg); err != nil {
				t.Fatal(err)
			}
			unacked = append(unacked, out{msg.ID(), msg.Resource()})
			sent++
		}
		time.Sleep(20 * time.Millisecond)
		cloud.Inspect(func(v *testcloud.View) {
			still := unacked[:0]
			for _, o := range unacked {
				if v.Acks(o.id) > 0 {
					acked = append(acked, o.resource)
				} else {
					still = append(still, o)
				}
			}
			unacked = still
		})
	}
	m.Kill()
	// An ack that raced the kill was written by the guest before it died:
	// it counts as a promise too.
	cloud.Inspect(func(v *testcloud.View) {
		for _, o := range unacked {
			if v.Acks(o.id) > 0 {
				acked = append(acked, o.resource)
			}
		}
	})
	return acked, sent
}

// powerCutObject is the i-th configmap of the burst, with a body large
// enough that every commit writes several pages.
func powerCutObject(i int) *model.Message {
	name := fmt.Sprintf("cm-%04d", i)
	rv := fmt.Sprint(1000 + i)
	cm := v1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: powerCutNamespace, ResourceVersion: rv, UID: types.UID("uid-" + name)},
		Data:       map[string]string{"index": fmt.Sprint(i), "pad": strings.Repeat("x", 6000)},
	}
	msg := model.NewMessage("")
	msg.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup,
		model.BuildResource(powerCutNamespace, model.ResourceTypeConfigmap, name), model.InsertOperation)
	msg.SetResourceVersion(rv)
	msg.FillBody(cm)
	return msg
}

// replayJournal runs the host's e2fsck on the data partition as the
// gateway's next mount would recover it: journal replayed, nothing else
// needed. Exit 1 means it fixed something (the replay); above that the
// filesystem itself was damaged by the cut.
func replayJournal(t *testing.T, part string) {
	t.Helper()
	out, err := exec.Command("e2fsck", "-fy", part).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("e2fsck of the data partition after the power cut: %v\n%s", err, out)
	}
}

// missingFromStore opens edgecore's store from the partition with bbolt
// and returns the acknowledged resources it lacks.
func missingFromStore(t *testing.T, part string, acked []string) []string {
	t.Helper()
	store := filepath.Join(t.TempDir(), "edgecore.db")
	must(t, os.WriteFile(store, []byte(debugfsCat(t, part, "/lib/kubeedge/edgecore.db")), 0o600))
	db, err := dbm.Open(store, dbm.Options{})
	if err != nil {
		t.Fatalf("edgecore's store after the power cut: %v", err)
	}
	defer db.Close()
	var missing []string
	err = db.View(func(tx *dbm.Tx) error {
		for _, r := range acked {
			if _, ok, err := tx.Get(metamanager.MetaTable, r); err != nil {
				return err
			} else if !ok {
				missing = append(missing, r)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the store: %v", err)
	}
	return missing
}
