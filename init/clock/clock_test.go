package clock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type recorder struct {
	sets []time.Time
	err  error
}

func (r *recorder) set(t time.Time) error {
	if r.err != nil {
		return r.err
	}
	r.sets = append(r.sets, t)
	return nil
}

func near(a, b time.Time, tol time.Duration) bool {
	d := a.Sub(b)
	return d < tol && d > -tol
}

func TestSyncSetsTimeFromBestServer(t *testing.T) {
	const ahead = 3 * time.Hour
	good := startNTPServer(t, &ntpServer{offset: ahead, stratum: 2, rootDelay: 20 * time.Millisecond, rootDisp: 50 * time.Millisecond})
	better := startNTPServer(t, &ntpServer{offset: ahead, stratum: 1, rootDelay: time.Millisecond, rootDisp: time.Millisecond, refID: [4]byte{'G', 'P', 'S', 0}})
	kod := startNTPServer(t, &ntpServer{stratum: 0, refID: [4]byte{'R', 'A', 'T', 'E'}})
	unsynced := startNTPServer(t, &ntpServer{offset: -ahead, stratum: 2, leap: 3})
	silent := startNTPServer(t, &ntpServer{silent: true})

	rec := &recorder{}
	k := &Keeper{Servers: []string{kod, silent, good, unsynced, better}, QueryTimeout: 300 * time.Millisecond, Set: rec.set}
	r, err := k.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Server != better || r.Stratum != 1 {
		t.Fatalf("picked %s, want the lowest root distance %s", r, better)
	}
	if len(rec.sets) != 1 || !near(rec.sets[0], time.Now().Add(ahead), time.Second) {
		t.Fatalf("set %v, want about now+%v", rec.sets, ahead)
	}
	if !near(time.Now().Add(r.Offset), time.Now().Add(ahead), time.Second) {
		t.Fatalf("offset %v, want about %v", r.Offset, ahead)
	}
}

func TestQueryFailsNamingEveryServer(t *testing.T) {
	kod := startNTPServer(t, &ntpServer{stratum: 0, refID: [4]byte{'D', 'E', 'N', 'Y'}})
	silent := startNTPServer(t, &ntpServer{silent: true})
	_, err := Query(context.Background(), []string{kod, silent}, 200*time.Millisecond)
	if err == nil {
		t.Fatal("Query succeeded with no usable server")
	}
	for _, want := range []string{kod, silent, `kiss of death "DENY"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q spans lines; the console shows it as one", err)
	}
	if _, err := Query(context.Background(), nil, time.Second); err == nil {
		t.Fatal("Query with no servers succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Query(ctx, []string{kod}, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Query = %v", err)
	}
}

func TestSyncDoesNotSetOnFailure(t *testing.T) {
	silent := startNTPServer(t, &ntpServer{silent: true})
	rec := &recorder{}
	k := &Keeper{Servers: []string{silent}, QueryTimeout: 100 * time.Millisecond, Set: rec.set}
	if _, err := k.Sync(context.Background()); err == nil || len(rec.sets) != 0 {
		t.Fatalf("Sync = %v, sets %v", err, rec.sets)
	}
}

func TestRestore(t *testing.T) {
	saved := time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
	floor := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	epoch := time.Unix(0, 0)
	tests := []struct {
		name     string
		file     string // "" means absent
		floor    time.Time
		now      time.Time
		wantSet  time.Time // zero: no set
		wantFrom string
		wantErr  string
	}{
		{"booted at 1970, saved time restored", saved.Format(time.RFC3339Nano), floor, epoch, saved, "saved", ""},
		{"clock already ahead", saved.Format(time.RFC3339Nano), floor, saved.Add(time.Hour), time.Time{}, "", ""},
		{"nothing saved, floor used", "", floor, epoch, floor, "floor", ""},
		{"nothing saved, no floor", "", time.Time{}, epoch, time.Time{}, "", ""},
		{"saved older than floor", "2020-01-01T00:00:00Z", floor, epoch, floor, "floor", ""},
		{"corrupt file named, floor still used", "yesterday-ish", floor, epoch, floor, "floor", "is corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "clock")
			if tt.file != "" {
				os.WriteFile(path, []byte(tt.file+"\n"), 0o644)
			}
			rec := &recorder{}
			k := &Keeper{SavePath: path, Floor: tt.floor, Set: rec.set, Now: func() time.Time { return tt.now }}
			r, err := k.Restore()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
			if tt.wantSet.IsZero() {
				if len(rec.sets) != 0 || r.Restored {
					t.Fatalf("set %v, want none", rec.sets)
				}
				return
			}
			if len(rec.sets) != 1 || !rec.sets[0].Equal(tt.wantSet) || !r.Restored || r.From != tt.wantFrom {
				t.Fatalf("set %v (%s), want %v from %s", rec.sets, r, tt.wantSet, tt.wantFrom)
			}
		})
	}
}

func TestSaveThenRestoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "lib", "clock")
	now := time.Date(2032, 2, 3, 4, 5, 6, 789, time.UTC)
	k := &Keeper{SavePath: path, Now: func() time.Time { return now }, Set: (&recorder{}).set}
	if err := k.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil || !got.Equal(now) {
		t.Fatalf("Load = %v, %v; want %v", got, err, now)
	}
	// A board that lost power and boots at 1970 must not save 1970.
	now = time.Unix(0, 0)
	if err := k.Save(); err == nil {
		t.Fatal("saved a time earlier than the saved one")
	}
	if got, _ := Load(path); !got.Equal(time.Date(2032, 2, 3, 4, 5, 6, 789, time.UTC)) {
		t.Fatalf("saved time changed to %v", got)
	}
}

func TestSaveAfterSyncMayGoBack(t *testing.T) {
	ntpAt := startNTPServer(t, &ntpServer{stratum: 2})
	path := filepath.Join(t.TempDir(), "clock")
	os.WriteFile(path, []byte("2099-01-01T00:00:00Z\n"), 0o644) // a bad save ran ahead
	k := &Keeper{SavePath: path, Servers: []string{ntpAt}, QueryTimeout: time.Second, Set: (&recorder{}).set}
	if err := k.Save(); err == nil {
		t.Fatal("saved before NTP although behind the saved time")
	}
	if _, err := k.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := k.Save(); err != nil {
		t.Fatalf("after NTP sync: %v", err)
	}
	if got, _ := Load(path); !near(got, time.Now(), time.Minute) {
		t.Fatalf("saved %v, want now", got)
	}
}

func TestRunSavesAtShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock")
	k := &Keeper{SavePath: path, SaveInterval: time.Hour, Set: (&recorder{}).set}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, err := Load(path); err != nil || !near(got, time.Now(), time.Minute) {
		t.Fatalf("Load = %v, %v", got, err)
	}
}

func TestSetterErrorIsReturned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock")
	os.WriteFile(path, []byte("2031-01-01T00:00:00Z\n"), 0o644)
	rec := &recorder{err: errors.New("operation not permitted")}
	k := &Keeper{SavePath: path, Set: rec.set, Now: func() time.Time { return time.Unix(0, 0) }}
	if _, err := k.Restore(); err == nil || !strings.Contains(err.Error(), "not permitted") {
		t.Fatalf("Restore = %v", err)
	}
}
