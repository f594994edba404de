package clock

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRetryDelay: after a failed sync the wait starts at RetryMin and
// doubles up to RetryMax: seconds at first, minutes at most.
func TestRetryDelay(t *testing.T) {
	tests := []struct {
		min, max time.Duration
		failures int
		want     time.Duration
	}{
		{0, 0, 1, 5 * time.Second},
		{0, 0, 2, 10 * time.Second},
		{0, 0, 3, 20 * time.Second},
		{0, 0, 6, 160 * time.Second},
		{0, 0, 7, 5 * time.Minute},
		{0, 0, 1000, 5 * time.Minute},
		{time.Second, time.Minute, 1, time.Second},
		{time.Second, time.Minute, 4, 8 * time.Second},
		{time.Second, time.Minute, 9, time.Minute},
	}
	for _, tt := range tests {
		k := &Keeper{RetryMin: tt.min, RetryMax: tt.max}
		if got := k.RetryDelay(tt.failures); got != tt.want {
			t.Errorf("min %v max %v: after %d failures wait %v, want %v", tt.min, tt.max, tt.failures, got, tt.want)
		}
	}
}

// TestNextSync: none tried yet, sync at once; after a success, the sync
// interval; after failures, the backoff.
func TestNextSync(t *testing.T) {
	silent := startNTPServer(t, &ntpServer{silent: true})
	good := startNTPServer(t, &ntpServer{stratum: 2})
	k := &Keeper{Servers: []string{silent}, QueryTimeout: 50 * time.Millisecond, SyncInterval: 2 * time.Hour, Set: (&recorder{}).set}
	if d := k.nextSync(); d != 0 {
		t.Fatalf("before any sync: %v, want 0", d)
	}
	for i, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second} {
		if _, err := k.Sync(context.Background()); err == nil {
			t.Fatal("sync with a silent server succeeded")
		}
		if d := k.nextSync(); d != want {
			t.Fatalf("after %d failures: %v, want %v", i+1, d, want)
		}
	}
	k.Servers = []string{good}
	if _, err := k.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := k.nextSync(); d != 2*time.Hour {
		t.Fatalf("after a success: %v, want the sync interval", d)
	}
}

// TestRunRetriesAFailedSync: the boot's sync fails (the server does not
// answer yet); Run keeps asking with backoff and sets the clock as soon as
// the server answers, long before the hourly re-sync. It does so with no
// place to save the time (/var on tmpfs), and saves nothing.
func TestRunRetriesAFailedSync(t *testing.T) {
	srv := &ntpServer{stratum: 2, offset: time.Hour}
	srv.drop.Store(3)
	addr := startNTPServer(t, srv)
	rec := &recorder{}
	k := &Keeper{
		Servers: []string{addr}, QueryTimeout: 100 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, RetryMax: 80 * time.Millisecond,
		Set: rec.set,
	}
	if _, err := k.Sync(context.Background()); err == nil {
		t.Fatal("the boot's sync succeeded; the server should not answer yet")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !k.isSynced() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not synced after %d requests; Run does not retry a failed sync", srv.asked.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := srv.asked.Load(); n < 4 {
		t.Fatalf("server asked %d times, want the boot's try and three retries at least", n)
	}
	if len(rec.sets) != 1 || !near(rec.sets[0], time.Now().Add(time.Hour), time.Minute) {
		t.Fatalf("clock set to %v, want about an hour ahead", rec.sets)
	}
}

// TestSaveWithoutPath: with no save path nothing is written, and that is
// not an error.
func TestSaveWithoutPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	k := &Keeper{Set: (&recorder{}).set}
	if err := k.Save(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("wrote %v", entries)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultSavePath)); err == nil {
		t.Fatal("saved somewhere")
	}
}

func (k *Keeper) isSynced() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.synced
}
