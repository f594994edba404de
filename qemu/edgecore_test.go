package qemu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/image"
)

var edgecoreImages = map[string]string{}

// edgecoreImage returns b's image as `edgegate build` makes it by default:
// containerd and edgecore, the default device and edgecore configs.
func edgecoreImage(t testing.TB, b boards.Board) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if p, ok := edgecoreImages[b.Name]; ok {
		return p
	}
	out := filepath.Join(images.dir, b.Name+"-edgecore.img")
	if _, err := image.Build(context.Background(), image.Options{
		Board: b, Version: "test", Output: out, Cache: testCache(t), Containerd: true, Edgecore: true,
	}); err != nil {
		t.Fatalf("building %s: %v", b.Name, err)
	}
	edgecoreImages[b.Name] = out
	return out
}

// TestEdgecore boots the default image: init starts edgecore once
// containerd is healthy, edgecore's own log (version first, then its
// modules) reaches the console, its inspect socket makes it healthy, and
// after a clean power off its store on the data partition opens as a
// sound database and its log file holds the graceful stop. The boot's
// timeline reaches the console, every step with its duration, and /var.
func TestEdgecore(t *testing.T) {
	for _, b := range emulated(t) {
		t.Run(b.Name, func(t *testing.T) {
			disk := filepath.Join(t.TempDir(), "disk.img")
			must(t, CopyImage(edgecoreImage(t, b), disk))
			m := start(t, b, disk, Direct)
			expectWithin(t, m, `edgegate: service containerd healthy`, ctrdTimeout)
			expectWithin(t, m, `edgegate: service edgecore started pid \d+`, ctrdTimeout)
			expectWithin(t, m, `edgecore: .*edgecore version test\r?\n`, ctrdTimeout)
			expectWithin(t, m, `edgecore: .*module websocket: disabled`, ctrdTimeout)
			expectWithin(t, m, `edgecore: .*module metamanager started`, ctrdTimeout)
			expectWithin(t, m, `edgegate: service edgecore healthy`, ctrdTimeout)
			// edgehub is off: no cloud step, the timeline completes at
			// edgecore's health.
			line, steps := waitTimeline(t, m, ctrdTimeout)
			checkTimeline(t, line, steps, "service:containerd", "service:edgecore")
			if strings.Contains(line, " cloud=") {
				t.Errorf("a cloud step without a cloud: %s", line)
			}
			console := m.Console.String()
			healthy := strings.Index(console, "service containerd healthy")
			if started := strings.Index(console, "service edgecore started"); started < healthy {
				t.Errorf("edgecore started before containerd was healthy:\n%s", tail(console, 60))
			}
			if strings.Contains(console, "service edgecore exited") {
				t.Errorf("edgecore exited:\n%s", tail(console, 60))
			}
			powerdown(t, m)

			part := partition(t, disk, 4)
			checkClean(t, part)
			checkTimelineHistory(t, part, 1, line)
			log := debugfsCat(t, part, "/log/edgecore.log")
			for _, want := range []string{"edgecore version test", "module metamanager started", "edgecore stopped"} {
				if !strings.Contains(log, want) {
					t.Errorf("/var/log/edgecore.log lacks %q:\n%s", want, log)
				}
			}
			store := filepath.Join(t.TempDir(), "edgecore.db")
			must(t, os.WriteFile(store, []byte(debugfsCat(t, part, "/lib/kubeedge/edgecore.db")), 0o600))
			db, err := dbm.Open(store, dbm.Options{})
			if err != nil {
				t.Fatalf("edgecore's store on /var after power off: %v", err)
			}
			must(t, db.Close())
		})
	}
}
