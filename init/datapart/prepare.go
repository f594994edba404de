package datapart

import (
	"errors"
	"fmt"
	"os"
)

// refusal is a failure that trying again cannot change: the partition
// holds something that is not ours.
type refusal struct{ error }

// Prepare leaves the partition holding a checked ext4 filesystem: made
// when blank or when an earlier format did not finish, checked and
// repaired otherwise, made again only when e2fsck says it cannot be
// repaired. It does not mount it. Failures that say nothing about the
// filesystem are tried again; when they persist the error says why and
// the partition is as it was.
func Prepare(o Options) (Result, error) {
	o.defaults()
	return o.retry(func(res *Result) error { return o.prepareOnce(res) })
}

// Mount prepares the partition and mounts it on Target. A filesystem that
// passed its check but does not mount is tried again, never erased.
func Mount(o Options) (Result, error) {
	o.defaults()
	if err := os.MkdirAll(o.Target, 0o755); err != nil {
		return Result{}, fmt.Errorf("data partition: %w", err)
	}
	return o.retry(func(res *Result) error {
		if err := o.prepareOnce(res); err != nil {
			return err
		}
		if err := mount(o.Device, o.Target); err != nil {
			return fmt.Errorf("%w (after e2fsck passed it)", err)
		}
		return nil
	})
}

// retry runs try up to Attempts times, pausing RetryDelay, then twice
// that, and so on between tries; a refusal ends it at once.
func (o Options) retry(try func(*Result) error) (Result, error) {
	var res Result
	delay := o.RetryDelay
	for {
		res.Attempts++
		err := try(&res)
		if err == nil {
			return res, nil
		}
		var r refusal
		if errors.As(err, &r) {
			return res, r.error
		}
		if errors.Is(err, errTimedOut) {
			return res, fmt.Errorf("%w (not tried again: it would hang as long; the partition was left as it is)", err)
		}
		if res.Attempts >= o.Attempts {
			return res, fmt.Errorf("%w (tried %d times; the partition was left as it is)", err, res.Attempts)
		}
		o.Say("data: %v; trying again in %v (attempt %d of %d)", err, delay, res.Attempts+1, o.Attempts)
		o.Sleep(delay)
		delay *= 2
	}
}

// prepareOnce is one try of Prepare; res keeps what earlier tries did.
func (o Options) prepareOnce(res *Result) error {
	size, state, rec, err := inspect(o.Device)
	if err != nil {
		return err
	}
	if res.Attempts == 1 {
		res.Before = state
	}
	switch {
	case rec == recordFormatting:
		res.Resumed = true
		return o.format(size, res, "the first-boot format was interrupted; formatting again", "")
	case state == Foreign && rec != recordDone:
		return refusal{fmt.Errorf("data partition %s holds something that is not ext4; refusing to format it", o.Device)}
	case state == Blank:
		return o.format(size, res, "first boot", "")
	}
	// Ext4, or ours with its superblock damaged (e2fsck finds a backup).
	if o.Fsck == "" {
		return nil
	}
	act, runs := o.check()
	last := runs[len(runs)-1]
	switch act {
	case actClean:
		res.Check = "clean"
	case actRepaired:
		res.Check = "repaired"
	case actRecreate:
		return o.recreate(size, res, runs)
	default:
		if errors.Is(last.err, errTimedOut) {
			return fmt.Errorf("data partition %s: %s: %w", o.Device, last.pass, last.err)
		}
		return fmt.Errorf("data partition %s: %s", o.Device, last.describe())
	}
	return nil
}
