// Command initramfs is the init of an edgegate initramfs. It loads the
// few kernel modules that reach the slot (disk, FAT, loop, dm-verity, the
// root's filesystem), mounts the slot's root image read-only through
// dm-verity with the root hash the initramfs carries, switches to it and
// executes its /sbin/init, the gateway's PID 1 for the rest of the boot.
//
// A root image that fails verification is reported on the console as
// "root image of slot <s> is corrupt: ..." and the machine reboots: the
// slot is bad, and rebooting is how the bootloader gets to choose again
// (a trial slot counts down its tries and falls back). Any other failure
// reboots the same way, since there is nothing to run without the root.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/init/kmod"
	"github.com/edgegate/edgegate/init/rootfs"
)

// newRoot is where the root image is mounted before it becomes /.
const newRoot = "/sysroot"

// deviceTimeout bounds the wait for the slot's partition to appear.
const deviceTimeout = 20 * time.Second

// rebootDelay gives the console time to show why before the reboot.
const rebootDelay = 5 * time.Second

func main() {
	started := sinceBoot()
	if os.Getpid() != 1 {
		say("initramfs: must run as PID 1 (this is PID %d)", os.Getpid())
		os.Exit(2)
	}
	err := run(started)
	var corrupt *rootfs.CorruptError
	if errors.As(err, &corrupt) {
		say("%v; the slot is bad, rebooting", err)
	} else {
		say("initramfs: %v; rebooting", err)
	}
	time.Sleep(rebootDelay)
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {} // PID 1 must not exit
}

// run returns only on failure: on success it has become the root's init.
func run(started time.Duration) error {
	h := rootfs.Handover{Started: started}
	if err := mountKernelFS(); err != nil {
		return err
	}
	info, err := buildinfo.Read(buildinfo.Path)
	if err != nil {
		return err
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return err
	}
	slot, err := rootfs.SlotFromCmdline(string(cmdline))
	if err != nil {
		return err
	}
	spec, err := rootfs.ReadSpec(rootfs.SpecPath)
	if err != nil {
		return err
	}
	begin := sinceBoot()
	if err := loadModules(); err != nil {
		return err
	}
	h.Steps = append(h.Steps, rootfs.Step{Name: "initramfs-modules", Start: begin, End: sinceBoot()})

	begin = sinceBoot()
	part := info.Partition(rootfs.SlotPartition[slot])
	if err := waitFor(part, deviceTimeout); err != nil {
		return err
	}
	r, err := rootfs.Mount(spec, slot, part, newRoot)
	if err != nil {
		return err
	}
	if err := r.Warm(rootfs.InitPath); err != nil {
		return err
	}
	if err := unmountKernelFS(); err != nil {
		return err
	}
	if err := rootfs.SwitchRoot(newRoot); err != nil {
		return r.Failed(err) // copying /etc reads the root
	}
	step := rootfs.Step{Name: "root", Start: begin, End: sinceBoot()}
	h.Steps = append(h.Steps, step)
	loop := r.Loop
	if r.DirectIO {
		loop += " (direct I/O)"
	}
	say("root: slot %s %s (%s, %d bytes) on %s, dm-verity root hash %s, mounted read-only in %v",
		slot, spec.File, spec.FSType, spec.Size, loop, spec.Verity.RootHash, (step.End - step.Start).Round(time.Millisecond))
	env := append(os.Environ(), rootfs.HandoverEnv+"="+h.Env())
	err = unix.Exec(rootfs.InitPath, []string{rootfs.InitPath}, env)
	return r.Failed(fmt.Errorf("executing %s: %w", rootfs.InitPath, err))
}

// kernelFS are what the initramfs needs from the kernel; the root's init
// mounts its own, so they are unmounted before the switch.
var kernelFS = []struct{ source, target, fstype string }{
	{"proc", "/proc", "proc"},
	{"sysfs", "/sys", "sysfs"},
	{"devtmpfs", "/dev", "devtmpfs"},
}

func mountKernelFS() error {
	for _, m := range kernelFS {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.source, m.target, m.fstype, unix.MS_NOSUID, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

func unmountKernelFS() error {
	for i := len(kernelFS) - 1; i >= 0; i-- {
		if err := unix.Unmount(kernelFS[i].target, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", kernelFS[i].target, err)
		}
	}
	return nil
}

func loadModules() error {
	return kmod.LoadList(kmod.ListPath, func(format string, args ...any) { say("initramfs: "+format, args...) })
}

// waitFor waits until the device node path exists.
func waitFor(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", path, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sinceBoot is the time since the kernel started (CLOCK_BOOTTIME), the
// clock of the boot timeline.
func sinceBoot() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func say(format string, a ...any) {
	fmt.Printf("edgegate: "+format+"\n", a...)
}
