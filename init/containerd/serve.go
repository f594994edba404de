package containerd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// ServeMain is the init service's entry point: prepare, then become the
// daemon (exec), so the supervisor watches and signals containerd itself.
// It returns only on failure, with the exit status.
func ServeMain(args []string, stderr io.Writer) int {
	s := Default()
	fs := pflag.NewFlagSet("edgegate-containerd", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.Root, "root", s.Root, "containerd's persistent state (images, snapshots)")
	fs.StringVar(&s.Subnet, "subnet", s.Subnet, "IPv4 network of the container bridge")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := Prepare(s); err != nil {
		fmt.Fprintf(stderr, "edgegate-containerd: %v\n", err)
		return 1
	}
	err := execDaemon(s)
	fmt.Fprintf(stderr, "edgegate-containerd: %v\n", err)
	return 1
}

// Prepare writes the daemon's configuration and the CNI network, and sets
// up what containers need from the kernel: cgroup2, forwarding and NAT.
func Prepare(s Settings) error {
	if os.Geteuid() != 0 {
		return errNotRoot
	}
	for _, d := range []string{s.Root, s.State, s.CNIConfDir, s.NetNSDir, s.PodsRunDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("mkdir %s: %w", d, err)
		}
	}
	if err := os.WriteFile(s.ConfigPath(), ConfigTOML(s), 0o644); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	list, err := CNIConfList(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.CNIConfDir, NetworkName+".conflist"), list, 0o644); err != nil {
		return fmt.Errorf("cni config: %w", err)
	}
	// The overlayfs snapshotter checks once, when it initialises: a
	// daemon started without overlay would come up unable to run anything.
	if err := needFilesystem("/proc/filesystems", "overlay"); err != nil {
		return err
	}
	if err := mountCgroup2(); err != nil {
		return err
	}
	for _, d := range []string{s.NetNSDir, s.PodsRunDir} {
		if err := sharedMountPoint(d); err != nil {
			return err
		}
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable forwarding: %w", err)
	}
	// Containers without a way out are still containers: report and go on.
	if err := Masquerade(s.Subnet, s.Bridge); err != nil {
		klog.Errorf("containers will not reach the uplink: %v", err)
	}
	return nil
}

// needFilesystem fails unless the kernel list at path (/proc/filesystems)
// has fs, naming the module to load.
func needFilesystem(path, fs string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("kernel filesystems: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == fs {
			return nil
		}
	}
	return fmt.Errorf("the kernel has no %s filesystem: load the %s module before containerd starts", fs, fs)
}

// mountCgroup2 mounts the unified cgroup hierarchy runc needs, unless the
// init already did.
func mountCgroup2() error {
	const dir = "/sys/fs/cgroup"
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return nil
	}
	err := unix.Mount("cgroup2", dir, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "nsdelegate")
	if err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount cgroup2 on %s: %w", dir, err)
	}
	return nil
}

// sharedMountPoint makes dir a mount point of its own with shared
// propagation (what "ip netns" does for /run/netns), so that the network
// namespaces bind-mounted in it later appear in the daemon's jail too. A
// restart of the daemon finds it done already and leaves it.
func sharedMountPoint(dir string) error {
	if !isMountPoint(dir) {
		if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s on itself: %w", dir, err)
		}
	}
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether the calling thread's mount namespace lists
// dir as a mount point. The thread's own mountinfo is read: after
// enterJail's unshare the thread's namespace is not the process's
// (/proc/self names the main thread's), and a bind of a directory onto
// itself keeps the device, so comparing devices would not do.
func isMountPoint(dir string) bool {
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// execDaemon enters the jail and replaces this process with the daemon.
func execDaemon(s Settings) error {
	if err := enterJail(s.Jail); err != nil {
		return err
	}
	argv := []string{"containerd", "--config", s.ConfigPath()}
	if err := syscall.Exec(s.Binary, argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", s.Binary, err)
	}
	return nil
}
