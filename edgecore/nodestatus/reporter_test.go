package nodestatus

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/edgehub"
	"github.com/edgegate/edgegate/edgecore/internal/testcloud"
	"github.com/edgegate/edgegate/edgecore/model"
)

func TestObjectRespErr(t *testing.T) {
	tests := []struct {
		name    string
		content any
		want    string
		exists  bool
	}{
		{"ok", map[string]any{"Object": map[string]any{}, "Err": nil}, "", false},
		{"plain OK", "OK", "", false},
		{"already exists", `{"Object":null,"Err":{"ErrStatus":{"reason":"AlreadyExists","code":409,"message":"nodes \"n\" already exists"}}}`, "AlreadyExists (409): nodes \"n\" already exists", true},
		{"other error", map[string]any{"Err": "boom"}, `cloud error: "boom"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := objectRespErr(model.Message{Content: tt.content})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want || isAlreadyExists(err) != tt.exists {
				t.Fatalf("err = %q (exists %v), want %q (exists %v)", got, isAlreadyExists(err), tt.want, tt.exists)
			}
		})
	}
}

// TestReporterAgainstCloud registers, patches and leases through a real
// edgehub to the test cloud and checks the frames KubeEdge's cloud expects.
func TestReporterAgainstCloud(t *testing.T) {
	cloud := testcloud.ForTest(t, testcloud.Options{})
	dir := t.TempDir()
	db, err := dbm.Open(filepath.Join(dir, "db"), dbm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tok, _ := cloud.Token(time.Hour)
	b := bus.New()
	defer b.Close()
	b.AddModule(model.EdgeHubModuleName)
	b.AddModuleGroup(model.EdgeHubModuleName, model.HubGroup)
	hub, err := edgehub.New(edgehub.Config{
		Enable: true, NodeName: "pi-1", Server: cloud.WSServer(), HTTPServer: cloud.HTTPServer(), Token: tok,
		TLSCAFile: filepath.Join(dir, "ca"), TLSCertFile: filepath.Join(dir, "crt"), TLSPrivateKeyFile: filepath.Join(dir, "key"),
	}, b, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go hub.Start(ctx)
	for !hub.Connected() {
		time.Sleep(5 * time.Millisecond)
	}
	r := New(Config{Enable: true, NodeName: "pi-1", UpdateFrequency: 50 * time.Millisecond, Target: model.EdgeHubModuleName}, b)
	go r.Start(ctx)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	err = cloud.Wait(wctx, "node, patches and lease", func(v *testcloud.View) bool {
		patches, leases := 0, 0
		for _, u := range v.Upstream() {
			switch {
			case u.Msg.Router.Resource == "default/nodepatch/pi-1" && u.Msg.Router.Operation == "patch":
				patches++
			case u.Msg.Router.Resource == "kube-node-lease/lease/pi-1" && u.Msg.Router.Operation == "update":
				leases++
			}
		}
		_, registered := v.Node("pi-1")
		return registered && patches >= 2 && leases >= 1
	})
	if err != nil {
		t.Fatal(err)
	}
	cloud.Inspect(func(v *testcloud.View) {
		for _, u := range v.Upstream() {
			m := u.Msg
			if m.Router.Operation == "keepalive" {
				continue
			}
			if m.Router.Source != "edged" || m.Router.Group != "meta" {
				t.Errorf("%s %s: route %+v, want source edged group meta", m.Router.Operation, m.Router.Resource, m.Router)
			}
			if m.Router.Operation == "patch" {
				s, ok := m.Content.(string)
				var p map[string]any
				if !ok || json.Unmarshal([]byte(s), &p) != nil || p["status"] == nil {
					t.Errorf("patch content %#v is not a JSON string with status", m.Content)
				}
			}
		}
		n, _ := v.Node("pi-1")
		labels := n.(map[string]any)["metadata"].(map[string]any)["labels"].(map[string]any)
		if _, ok := labels["node-role.kubernetes.io/edge"]; !ok {
			t.Errorf("node labels %v lack node-role.kubernetes.io/edge", labels)
		}
	})
}
