package clock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	Servers  []string
	SavePath string
	// SaveInterval between saves in Run; zero means 15 minutes.
	SaveInterval time.Duration
	// SyncInterval between NTP syncs in Run; zero means one hour.
	SyncInterval time.Duration
	// QueryTimeout per server; zero means 3 s.
	QueryTimeout time.Duration
	// Floor is the earliest plausible time (e.g. the image build time),
	// used when nothing was saved yet. Zero means none.
	Floor time.Time
	Set   Setter
	// Now reads the system clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	synced bool // NTP set the clock this boot: its time is the truth
}

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
	if err != nil {
		return Result{}, err
	}
	if err := k.Set(k.now().Add(r.Offset)); err != nil {
		return Result{}, err
	}
	k.mu.Lock()
	k.synced = true
	k.mu.Unlock()
	return r, nil
}

// Save writes the current time to SavePath atomically. Until NTP has set
// the clock this boot it refuses to save a time earlier than the one
// saved, so a clock that was never restored cannot overwrite good time
// with 1970; after an NTP sync the clock is the truth, even if a bad save
// once ran ahead.
func (k *Keeper) Save() error {
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

// Run saves the time every SaveInterval and re-syncs from NTP every
// SyncInterval (when servers are configured) until ctx ends, then saves a
// last time. Failures are logged and retried at the next tick.
func (k *Keeper) Run(ctx context.Context) error {
	saveEvery, syncEvery := k.SaveInterval, k.SyncInterval
	if saveEvery == 0 {
		saveEvery = 15 * time.Minute
	}
	if syncEvery == 0 {
		syncEvery = time.Hour
	}
	saveT, syncT := time.NewTicker(saveEvery), time.NewTicker(syncEvery)
	defer saveT.Stop()
	defer syncT.Stop()
	for {
		select {
		case <-ctx.Done():
			return k.Save()
		case <-saveT.C:
			if err := k.Save(); err != nil {
				klog.Warning(err)
			}
		case <-syncT.C:
			if len(k.Servers) == 0 {
				continue
			}
			if r, err := k.Sync(ctx); err != nil {
				klog.Warning(err)
			} else {
				klog.V(1).Infof("clock: re-synced from %s", r)
			}
		}
	}
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
