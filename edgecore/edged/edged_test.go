package edged

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/metamanager"
	"github.com/edgegate/edgegate/edgecore/model"
)

// containerd's dialer keeps a goroutine until its own dial timeout after a
// failed connection (no daemon in these tests).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/containerd/containerd/v2/pkg/dialer.timeoutDialer.func1"),
		goleak.IgnoreAnyFunction("github.com/containerd/containerd/v2/pkg/dialer.timeoutDialer"))
}

func podJSON(ns, name, uid, rv string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"metadata":{"namespace":%q,"name":%q,"uid":%q,"resourceVersion":%q},"spec":{"nodeName":"edge-1","containers":[{"name":"c","image":"busybox"}]}}`, ns, name, uid, rv))
}

func podMsg(op, ns, name, rv string) *model.Message {
	return model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup,
		model.BuildResource(ns, model.ResourceTypePod, name), op).FillBody(podJSON(ns, name, "uid-"+name, rv))
}

func TestApply(t *testing.T) {
	tests := []struct {
		name     string
		msgs     []*model.Message
		want     map[string]string // name → resourceVersion
		counters Counters
	}{
		{"insert", []*model.Message{podMsg("insert", "default", "web", "1")}, map[string]string{"web": "1"}, Counters{Insert: 1}},
		{"insert then update", []*model.Message{podMsg("insert", "default", "web", "1"), podMsg("update", "default", "web", "2")},
			map[string]string{"web": "2"}, Counters{Insert: 1, Update: 1}},
		{"delete", []*model.Message{podMsg("insert", "default", "web", "1"), podMsg("insert", "kube-system", "dns", "3"), podMsg("delete", "default", "web", "4")},
			map[string]string{"dns": "3"}, Counters{Insert: 2, Delete: 1}},
		{"delete of unknown pod", []*model.Message{podMsg("delete", "default", "ghost", "1")}, map[string]string{}, Counters{Delete: 1}},
		{"other resources ignored", []*model.Message{
			model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, "default/configmap/cm", "insert").FillBody(map[string]any{"data": map[string]string{}}),
			model.NewMessage("").BuildRouter(model.MetaManagerModuleName, model.MetaGroup, "default/node/edge-1", "response").FillBody("OK"),
			model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, "not a resource", "insert"),
			podMsg("patch", "default", "web", "1"),
		}, map[string]string{}, Counters{Ignored: 4}},
		{"content that is no pod", []*model.Message{
			model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, "default/pod/x", "insert").FillBody("not json"),
			model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, "default/pod/y", "update").FillBody(map[string]any{"metadata": map[string]any{}}),
		}, map[string]string{}, Counters{Malformed: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Config{Enable: true}, bus.New())
			for _, msg := range tt.msgs {
				m.Apply(msg)
			}
			s := m.Status()
			got := map[string]string{}
			for _, p := range s.Pods {
				got[p.Name] = p.ResourceVersion
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || s.Counters != tt.counters {
				t.Fatalf("pods %v counters %+v, want %v %+v", got, s.Counters, tt.want, tt.counters)
			}
		})
	}
}

// On start edged takes the stored pods from the real metamanager (over a
// real bbolt file) as its desired set, then follows forwarded changes.
func TestStartListsStoredPods(t *testing.T) {
	db, err := dbm.Open(filepath.Join(t.TempDir(), "edgecore.db"), dbm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := metamanager.NewStore(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ ns, name string }{{"default", "web"}, {"apps", "db"}} {
		key := model.BuildResource(p.ns, model.ResourceTypePod, p.name)
		if err := store.Save(metamanager.Meta{Key: key, Type: model.ResourceTypePod, Value: string(podJSON(p.ns, p.name, "uid-"+p.name, "7"))}); err != nil {
			t.Fatal(err)
		}
	}
	b := bus.New()
	defer b.Close()
	for _, m := range []struct{ name, group string }{
		{model.MetaManagerModuleName, model.MetaGroup}, {model.EdgedModuleName, model.EdgedGroup}, {model.EdgeHubModuleName, model.HubGroup},
	} {
		b.AddModule(m.name)
		if err := b.AddModuleGroup(m.name, m.group); err != nil {
			t.Fatal(err)
		}
	}
	mm, err := metamanager.New(metamanager.Config{Enable: true, RemoteQueryTimeout: time.Second}, b, db)
	if err != nil {
		t.Fatal(err)
	}
	// No containerd answers here: edged keeps the desired set, and its
	// pods wait for the runtime.
	cfg := Config{Enable: true, ListTimeout: 5 * time.Second, PodsDir: t.TempDir(), PodsRunDir: t.TempDir()}
	cfg.Runtime.Endpoint = "unix://" + filepath.Join(t.TempDir(), "absent.sock")
	ed := New(cfg, b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- mm.Start(ctx) }()
	go func() { done <- ed.Start(ctx) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("module returned %v", err)
			}
		}
	}()

	waitStatus(t, ed, func(s Status) bool { return s.Counters.List == 1 })
	s := ed.Status()
	if len(s.Pods) != 2 || s.Pods[0].Name != "db" || s.Pods[1].Name != "web" {
		t.Fatalf("pods after start: %+v", s.Pods)
	}
	if err := b.Send(model.EdgedModuleName, *podMsg("delete", "apps", "db", "8")); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ed, func(s Status) bool { return len(s.Pods) == 1 && s.Counters.Delete == 1 })
}

func TestServeHTTP(t *testing.T) {
	m := New(Config{Enable: true}, bus.New())
	m.Apply(podMsg("insert", "default", "web", "5"))
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/edged", nil))
	var s Status
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || rec.Code != 200 {
		t.Fatalf("code %d err %v body %s", rec.Code, err, rec.Body)
	}
	if len(s.Pods) != 1 || s.Pods[0].UID != "uid-web" || s.Pods[0].ResourceVersion != "5" || s.Counters.Insert != 1 {
		t.Fatalf("status %+v", s)
	}
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/edged", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST answered %d", rec.Code)
	}
}

func waitStatus(t *testing.T, m *Module, cond func(Status) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond(m.Status()) {
		if time.Now().After(deadline) {
			t.Fatalf("status never reached: %+v", m.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
