// Package qemu boots an edgegate image under QEMU, the same image that is
// flashed to a card, and lets tests and the CLI read its serial console,
// wait for output, power it down as a power button would, or cut its power.
//
// Two boot paths: Direct starts the kernel and initramfs taken from the
// image's slot A with -kernel/-initrd (fast); UBoot runs the board's U-Boot
// as -bios, which reads the boot script from the disk like a real board.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"bytes"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/debpkg"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/buildinfo"
)

// BootPath selects how the guest is started.
type BootPath int

// Boot paths.
const (
	UBoot  BootPath = iota // the whole disk through U-Boot, the real boot path
	Direct                 // -kernel/-initrd from slot A, skipping the bootloader
	Kernel                 // a kernel and initramfs given as files, no disk image required
)

func (p BootPath) String() string {
	switch p {
	case Direct:
		return "direct"
	case Kernel:
		return "kernel"
	}
	return "u-boot"
}

// ParseBootPath reads "u-boot" or "direct".
func ParseBootPath(s string) (BootPath, error) {
	switch s {
	case "u-boot", "uboot":
		return UBoot, nil
	case "direct":
		return Direct, nil
	}
	return 0, fmt.Errorf("boot path %q: want u-boot or direct", s)
}

// Config describes one guest.
type Config struct {
	Board boards.Board
	Image string // the disk image, attached read-write
	Path  BootPath
	// Firmware is U-Boot for the UBoot path (see Firmware).
	Firmware string
	// KernelFile and InitrdFile are booted by the Kernel path (the boot
	// time floor: the board's kernel with a trivial init).
	KernelFile, InitrdFile string
	// Append adds kernel parameters on the Direct and Kernel paths.
	Append string
	// Reboot lets a guest reboot restart the machine; without it a guest
	// reboot ends QEMU, which is what most tests want.
	Reboot bool
	// Extra are more QEMU arguments (devices for a test, say).
	Extra []string
	// Interactive connects the console to this process's terminal instead
	// of capturing it only.
	Interactive bool
	// Tee receives a copy of the console output as it arrives.
	Tee io.Writer
	// Forwards publish guest TCP and UDP ports on the host's loopback
	// through QEMU's user network, the only way in: the guest is behind
	// its NAT.
	Forwards []Forward
	// MemoryMiB overrides the board's guest memory (a 1 GiB gateway, say).
	MemoryMiB int
}

// Forward makes QEMU accept TCP connections on 127.0.0.1:HostPort and
// pass them to GuestPort on the guest's address; with UDP, datagrams to
// that port instead, and the guest's answers back to their sender.
type Forward struct {
	HostPort, GuestPort int
	UDP                 bool
}

// netdev is the -netdev value: the user network with c's forwards.
func (c Config) netdev() string {
	var b strings.Builder
	b.WriteString("user,id=n0")
	for _, f := range c.Forwards {
		proto := "tcp"
		if f.UDP {
			proto = "udp"
		}
		fmt.Fprintf(&b, ",hostfwd=%s:127.0.0.1:%d-:%d", proto, f.HostPort, f.GuestPort)
	}
	return b.String()
}

// Machine is a running guest.
type Machine struct {
	Console *Console
	Started time.Time

	cmd     *exec.Cmd
	qmp     *qmp
	workDir string
	done    chan struct{}
	waitErr error
	once    sync.Once
}

// Firmware returns the path of the board's U-Boot for QEMU, unpacked from
// its pinned package in the cache.
func Firmware(ctx context.Context, cache *debpkg.Cache, b boards.Board) (string, error) {
	if b.Emulation == nil {
		return "", fmt.Errorf("board %s: QEMU cannot emulate it", b.Name)
	}
	root, err := cache.Unpacked(ctx, b.Bootloader)
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, b.Emulation.BIOS)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("board %s: firmware: %w", b.Name, err)
	}
	return p, nil
}

// Start boots a guest.
func Start(ctx context.Context, c Config) (*Machine, error) {
	emu := c.Board.Emulation
	if emu == nil {
		return nil, fmt.Errorf("board %s: QEMU cannot emulate it", c.Board.Name)
	}
	if c.Path != Kernel {
		if _, err := os.Stat(c.Image); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
	}
	work, err := os.MkdirTemp("", "edgegate-qemu-")
	if err != nil {
		return nil, err
	}
	m := &Machine{workDir: work, done: make(chan struct{})}
	args, err := m.args(c)
	if err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	m.cmd = exec.CommandContext(ctx, emu.Binary, args...)
	m.Console = newConsole(c.Tee)
	if c.Interactive {
		m.cmd.Stdin = os.Stdin
		m.cmd.Stdout = io.MultiWriter(os.Stdout, m.Console)
	} else {
		m.cmd.Stdout = m.Console
	}
	m.cmd.Stderr = m.Console
	m.Started = time.Now()
	if err := m.cmd.Start(); err != nil {
		os.RemoveAll(work)
		return nil, fmt.Errorf("starting %s: %w", emu.Binary, err)
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		m.Console.close()
		close(m.done)
	}()
	q, err := dialQMP(filepath.Join(work, "qmp.sock"), 10*time.Second)
	if err != nil {
		m.Kill()
		return nil, fmt.Errorf("%w; console:\n%s", err, m.Console.String())
	}
	m.qmp = q
	return m, nil
}

func (m *Machine) args(c Config) ([]string, error) {
	emu := c.Board.Emulation
	mem := emu.MemoryMiB
	if c.MemoryMiB > 0 {
		mem = c.MemoryMiB
	}
	args := []string{
		"-M", emu.Machine, "-cpu", emu.CPU,
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(emu.CPUs),
		"-netdev", c.netdev(), "-device", emu.NetDevice + ",netdev=n0",
		"-qmp", "unix:" + filepath.Join(m.workDir, "qmp.sock") + ",server=on,wait=off",
	}
	if c.Interactive {
		args = append(args, "-nographic")
	} else {
		args = append(args, "-display", "none", "-monitor", "none", "-serial", "stdio")
	}
	if !c.Reboot {
		args = append(args, "-no-reboot")
	}
	if c.Image != "" {
		args = append(args, "-drive", "file="+c.Image+",if=virtio,format=raw")
	}
	switch c.Path {
	case UBoot:
		if c.Firmware == "" {
			return nil, errors.New("u-boot boot path: no firmware given")
		}
		args = append(args, "-bios", c.Firmware)
	case Direct:
		kernel, initrd, err := m.extractSlot(c)
		if err != nil {
			return nil, err
		}
		args = append(args, "-kernel", kernel, "-initrd", initrd,
			"-append", strings.TrimSpace(image.Bootargs(c.Board)+" edgegate.slot=a "+c.Append))
	case Kernel:
		args = append(args, "-kernel", c.KernelFile, "-initrd", c.InitrdFile,
			"-append", strings.TrimSpace(image.Bootargs(c.Board)+" "+c.Append))
	}
	return append(args, c.Extra...), nil
}

// extractSlot copies slot A's kernel and initramfs out of the image, so the
// direct path boots exactly what U-Boot would.
func (m *Machine) extractSlot(c Config) (kernel, initrd string, err error) {
	for _, f := range []struct{ name, dst string }{
		{c.Board.KernelFile, filepath.Join(m.workDir, "kernel")},
		{"initrd", filepath.Join(m.workDir, "initrd")},
	} {
		b, err := disk.ReadFile(c.Image, 2, f.name)
		if err != nil {
			return "", "", fmt.Errorf("direct boot: %w", err)
		}
		if err := os.WriteFile(f.dst, b, 0o644); err != nil {
			return "", "", err
		}
	}
	return filepath.Join(m.workDir, "kernel"), filepath.Join(m.workDir, "initrd"), nil
}

// Powerdown presses the virtual power button (QMP system_powerdown).
func (m *Machine) Powerdown() error {
	return m.qmp.execute("system_powerdown")
}

// Kill cuts the power: QEMU is killed with no warning to the guest.
func (m *Machine) Kill() {
	if m.cmd.Process != nil {
		m.cmd.Process.Kill()
	}
	<-m.done
	m.cleanup()
}

// Wait waits for QEMU to exit by itself, at most timeout.
func (m *Machine) Wait(timeout time.Duration) error {
	select {
	case <-m.done:
		m.cleanup()
		return m.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("QEMU still running after %v", timeout)
	}
}

// Close kills QEMU if it is still running and removes its files.
func (m *Machine) Close() {
	select {
	case <-m.done:
		m.cleanup()
	default:
		m.Kill()
	}
}

func (m *Machine) cleanup() {
	m.once.Do(func() {
		if m.qmp != nil {
			m.qmp.close()
		}
		os.RemoveAll(m.workDir)
	})
}

// ImageInfo reads the build record from the initramfs in slot A of img.
func ImageInfo(img string) (buildinfo.Info, error) {
	initrd, err := disk.ReadFile(img, 2, "initrd")
	if err != nil {
		return buildinfo.Info{}, err
	}
	raw, err := io.ReadAll(initramfs.Open(initrd))
	if err != nil {
		return buildinfo.Info{}, fmt.Errorf("image %s: initramfs: %w", img, err)
	}
	rr := cpio.Newc.Reader(bytes.NewReader(raw))
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			return buildinfo.Info{}, fmt.Errorf("image %s: no build record in the initramfs", img)
		}
		if rec.Name == strings.TrimPrefix(buildinfo.Path, "/") {
			b, err := io.ReadAll(io.NewSectionReader(rec, 0, int64(rec.FileSize)))
			if err != nil {
				return buildinfo.Info{}, err
			}
			return buildinfo.Parse(b)
		}
	}
}
