package rootfs

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// nodeWait bounds the wait for a device node devtmpfs creates.
const nodeWait = 2 * time.Second

// attachLoop binds file to a free loop device, read-only, in blockSize
// blocks, with direct I/O where the file's filesystem allows it (the
// image's pages are then cached once, by the filesystem above, not a
// second time by the FAT below). It returns the device's path.
func attachLoop(file string, blockSize int64) (string, error) {
	ctl, err := unix.Open("/dev/loop-control", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("loop: %w (is the loop module loaded?)", err)
	}
	n, err := unix.IoctlRetInt(ctl, unix.LOOP_CTL_GET_FREE)
	unix.Close(ctl)
	if err != nil {
		return "", fmt.Errorf("loop: no free device: %w", err)
	}
	dev := fmt.Sprintf("/dev/loop%d", n)
	if err := waitNode(dev); err != nil {
		return "", fmt.Errorf("loop: %w", err)
	}
	lfd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("loop: %s: %w", dev, err)
	}
	defer unix.Close(lfd)
	ffd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("loop: %w", err)
	}
	defer unix.Close(ffd)
	cfg := unix.LoopConfig{
		Fd:   uint32(ffd),
		Size: uint32(blockSize), // struct loop_config's block_size
		Info: unix.LoopInfo64{Flags: unix.LO_FLAGS_READ_ONLY | unix.LO_FLAGS_DIRECT_IO},
	}
	copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], file)
	if err := unix.IoctlLoopConfigure(lfd, &cfg); err != nil {
		return "", fmt.Errorf("loop: binding %s to %s: %w", file, dev, err)
	}
	return dev, nil
}

// directIO reports whether the loop device dev reads its file with
// direct I/O, as the kernel decided.
func directIO(dev string) bool {
	b, err := os.ReadFile("/sys/block/" + strings.TrimPrefix(dev, "/dev/") + "/loop/dio")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
