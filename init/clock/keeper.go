package clock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// Keeper restores, syncs and saves the system time.
type Keeper struct {
	Servers []string
	// SavePath is where the time is saved; empty means nowhere (/var is
	// not persistent this boot): nothing is saved, Restore applies Floor.
	SavePath string
	// SaveInterval between saves in Run; zero means 15 minutes.
	SaveInterval time.Duration
	// SyncInterval between NTP syncs in Run once one succeeded; zero
	// means one hour.
	SyncInterval time.Duration
	// RetryMin and RetryMax bound the wait after a failed sync: it starts
	// at RetryMin and doubles with each failure up to RetryMax. Zero means
	// 5 s and 5 minutes: a gateway that booted before its uplink, or with
	// NTP blocked for a while, gets its time within seconds of the network
	// coming back, without hammering the servers when it does not.
	RetryMin, RetryMax time.Duration
	// QueryTimeout per server (name lookup and answer each); zero means 3 s.
	QueryTimeout time.Duration
	// Floor is the earliest plausible time (e.g. the image build time),
	// used when nothing was saved yet. Zero means none.
	Floor time.Time
	Set   Setter
	// Now reads the system clock; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	synced    bool // NTP set the clock this boot: its time is the truth
	attempted bool // a sync was tried this boot
	failures  int  // syncs failed in a row
}

// Defaults of the Keeper's intervals.
const (
	DefaultSaveInterval = 15 * time.Minute
	DefaultSyncInterval = time.Hour
	DefaultRetryMin     = 5 * time.Second
	DefaultRetryMax     = 5 * time.Minute
)

// RestoreResult says what Restore did.
type RestoreResult struct {
	Restored bool
	From     string // "saved" or "floor"
	Time     time.Time
}

func (r RestoreResult) String() string {
	if !r.Restored {
		return "clock: system time is ahead of the saved time, kept"
	}
	return fmt.Sprintf("clock: restored to %s (%s time)", r.Time.UTC().Format(time.RFC3339), r.From)
}

func (k *Keeper) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Restore moves the clock forward to the saved time (or Floor) when the
// system time is behind it; it never moves the clock back. A missing save
// file is not an error; a corrupt one is (naming it) and Floor still
// applies.
func (k *Keeper) Restore() (RestoreResult, error) {
	target, from := k.Floor, "floor"
	saved, loadErr := Load(k.SavePath)
	if loadErr == nil && saved.After(target) {
		target, from = saved, "saved"
	}
	if errors.Is(loadErr, fs.ErrNotExist) {
		loadErr = nil
	}
	if target.IsZero() || !k.now().Before(target) {
		return RestoreResult{}, loadErr
	}
	if err := k.Set(target); err != nil {
		return RestoreResult{}, errors.Join(err, loadErr)
	}
	return RestoreResult{Restored: true, From: from, Time: target}, loadErr
}

// Sync queries NTP and sets the clock from the best answer.
func (k *Keeper) Sync(ctx context.Context) (Result, error) {
	timeout := k.QueryTimeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	r, err := Query(ctx, k.Servers, timeout)
	if err == nil {
		err = k.Set(k.now().Add(r.Offset))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.attempted = true
	if err != nil {
		k.failures++
		return Result{}, err
	}
	k.synced, k.failures = true, 0
	return r, nil
}

// RetryDelay is the wait after the given number of failed syncs in a
// row: RetryMin, doubling with each failure, at most RetryMax.
func (k *Keeper) RetryDelay(failures int) time.Duration {
	lo, hi := k.RetryMin, k.RetryMax
	if lo <= 0 {
		lo = DefaultRetryMin
	}
	if hi <= 0 {
		hi = DefaultRetryMax
	}
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// nextSync is how long Run waits before the next sync: none yet this
// boot, at once; after a success, SyncInterval; after failures, the
// retry backoff.
func (k *Keeper) nextSync() time.Duration {
	k.mu.Lock()
	attempted, failures := k.attempted, k.failures
	k.mu.Unlock()
	switch {
	case !attempted:
		return 0
	case failures == 0:
		if k.SyncInterval > 0 {
			return k.SyncInterval
		}
		return DefaultSyncInterval
	}
	return k.RetryDelay(failures)
}

// Save writes the current time to SavePath atomically. Until NTP has set
// the clock this boot it refuses to save a time earlier than the one
// saved, so a clock that was never restored cannot overwrite good time
// with 1970; after an NTP sync the clock is the truth, even if a bad save
// once ran ahead.
func (k *Keeper) Save() error {
	if k.SavePath == "" {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if saved, err := Load(k.SavePath); err == nil && now.Before(saved) && !k.synced {
		return fmt.Errorf("clock: not saving %s: earlier than saved %s", now.UTC().Format(time.RFC3339), saved.UTC().Format(time.RFC3339))
	}
	if err := os.MkdirAll(filepath.Dir(k.SavePath), 0o755); err != nil {
		return fmt.Errorf("clock: save: %w", err)
	}
	data := []byte(now.UTC().Format(time.RFC3339Nano) + "\n")
	if err := atomicfile.WriteFile(k.SavePath, data, 0o644); err != nil {
		return fmt.Errorf("clock: save: %w", err)
	}
	return nil
}

// Run saves the time every SaveInterval (when there is a SavePath) and
// syncs from NTP (when servers are configured): a failed sync is retried
// with backoff from RetryMin up to RetryMax, a good one repeated every
// SyncInterval. It runs until ctx ends, then saves a last time. Failures
// are logged, each with the wait before the next try.
func (k *Keeper) Run(ctx context.Context) error {
	saveEvery := k.SaveInterval
	if saveEvery == 0 {
		saveEvery = DefaultSaveInterval
	}
	var saveC <-chan time.Time
	if k.SavePath != "" {
		t := time.NewTicker(saveEvery)
		defer t.Stop()
		saveC = t.C
	}
	var syncT *time.Timer
	var syncC <-chan time.Time
	if len(k.Servers) > 0 {
		syncT = time.NewTimer(jitter(k.nextSync()))
		defer syncT.Stop()
		syncC = syncT.C
	}
	for {
		select {
		case <-ctx.Done():
			return k.Save()
		case <-saveC:
			if err := k.Save(); err != nil {
				klog.Warning(err)
			}
		case <-syncC:
			r, err := k.Sync(ctx)
			wait := jitter(k.nextSync())
			if err != nil {
				klog.Warningf("clock: %v; next try in %s", err, wait.Round(time.Second))
			} else {
				klog.Infof("clock: synced from ntp %s", r)
			}
			syncT.Reset(wait)
		}
	}
}

// jitter spreads d by ±10 %, so gateways that lost their uplink together
// do not all ask the servers in the same second when it comes back.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// Load reads a saved time.
func Load(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("clock: saved time: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("clock: saved time %s is corrupt: %w", path, err)
	}
	return t, nil
}
