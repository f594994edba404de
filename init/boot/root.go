package boot

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/edgegate/edgegate/init/power"
	"github.com/edgegate/edgegate/init/rootfs"
	"github.com/edgegate/edgegate/init/timeline"
)

// How often init asks dm-verity whether it refused a block of the root:
// often while the boot reads most of what it will read (a program that
// got an I/O error instead of its code must not leave the boot going on
// half-working), then seldom.
const (
	rootWatchBoot  = time.Second
	rootWatchAfter = 10 * time.Second
)

// rootCheckWait bounds the wait for the boot to finish before the check
// of every block of the root starts anyway.
const rootCheckWait = 2 * time.Minute

// initramfsHandover reads (and removes from init's environment, so the
// services do not inherit it) what the initramfs did before it executed
// this init; ok is false when init was not started by an edgegate
// initramfs.
func initramfsHandover() (h rootfs.Handover, ok bool, err error) {
	v, set := os.LookupEnv(rootfs.HandoverEnv)
	if !set {
		return rootfs.Handover{}, false, nil
	}
	os.Unsetenv(rootfs.HandoverEnv)
	h, err = rootfs.ParseHandover(v)
	return h, err == nil, err
}

// kernelHandoff is when the kernel handed over to the first init: the
// initramfs's, which executed this one, or this one's own exec.
func kernelHandoff(execed time.Time, h rootfs.Handover, ok bool) time.Time {
	if !ok {
		return execed
	}
	return time.Now().Add(h.Started - timeline.SinceKernelStart())
}

// addInitramfsSteps puts the initramfs's steps into the boot timeline.
func (s *System) addInitramfsSteps(h rootfs.Handover) {
	for _, st := range h.Steps {
		s.timeline.Add(st.Name, st.Start, st.End)
	}
}

// watchRoot checks the slot's root image from the start of init on.
// Every read is verified by dm-verity as it happens, and init asks
// dm-verity every rootWatchBoot whether it refused a block. Once the boot
// is done (every step of its timeline ended: services healthy, link up),
// every block is read once more, at idle priority, so that corruption in
// what the boot did not read is found now and not when a program first
// needs it; then it asks every rootWatchAfter. A corrupt root stops the
// gateway: it says so and reboots, the slot is bad.
func (s *System) watchRoot(ctx context.Context) {
	dev, err := rootfs.RootDevice()
	if err != nil {
		s.Console.Say("%v; not checked", err)
		return
	}
	checked := make(chan error, 1)
	go func() { checked <- s.checkRoot(ctx, dev) }()
	t := time.NewTicker(rootWatchBoot)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-checked:
			if s.rootFailed(err) {
				return
			}
			checked = nil
			t.Reset(rootWatchAfter)
		case <-t.C:
			bad, err := rootfs.Corrupted()
			if bad {
				err = &rootfs.CorruptError{Slot: s.Slot, Err: errors.New("dm-verity refused a block that does not match the root hash")}
			}
			if s.rootFailed(err) {
				return
			}
		}
	}
}

// checkRoot waits for the boot to end, says how much of the root it read,
// and reads every block of the root device dev.
func (s *System) checkRoot(ctx context.Context, dev string) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.timeline.Complete():
	case <-time.After(rootCheckWait):
	}
	if n, err := rootfs.ReadSoFar(dev); err == nil {
		s.Console.Say("root: %d KiB of %s read and verified by dm-verity during the boot", n>>10, dev)
	}
	rep, err := rootfs.Check(ctx, dev, s.Slot)
	switch {
	case ctx.Err() != nil:
	case err == nil:
		s.Console.Say("root: every block of slot %s verified: %d KiB in %v", s.Slot, rep.Bytes>>10, rep.Duration.Round(time.Millisecond))
	case !errors.As(err, new(*rootfs.CorruptError)):
		s.Console.Say("%v", err)
	}
	return err
}

// rootFailed reports whether err is a corrupt root; if so it says so and
// reboots: the orderly way (services stopped, /var unmounted) once the
// gateway is up and Serve takes requests, at once while the boot still
// runs, so that it does not go on with programs that could not be read.
// /var is then left as a power cut leaves it, which it is made for.
func (s *System) rootFailed(err error) bool {
	var corrupt *rootfs.CorruptError
	if !errors.As(err, &corrupt) {
		return false
	}
	s.Console.Say("%v; the slot is bad, rebooting", err)
	if s.serving.Load() {
		s.rootBad <- power.Request{Action: power.Reboot, Cause: "a corrupt root image"}
		return true
	}
	s.Console.Say("%s now, during the boot", power.Reboot)
	if err := power.Halt(power.Reboot); err != nil {
		s.Console.Say("%v", err)
	}
	return true
}
