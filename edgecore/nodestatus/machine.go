package nodestatus

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/init/atomicfile"
)

// Facts are what the node status is built from, measured on the machine.
type Facts struct {
	CPUs         int
	MemTotal     int64 // bytes
	MemAvailable int64 // bytes
	// The filesystem pods' ephemeral storage lives on (the kubelet root
	// directory's; the data partition on a gateway).
	FSCapacity, FSAvailable int64 // bytes
	FSInodes, FSInodesFree  uint64
	PIDMax, PIDs            int64

	KernelVersion string
	OSImage       string
	BootID        string
	MachineID     string
	SystemUUID    string

	// VarDegraded is why /var is not on the data partition (init's
	// words), empty when it is.
	VarDegraded string
	// FirewallDegraded is why the gateway's input filter is not installed
	// (init's words), empty when init reported no such fault.
	FirewallDegraded string
	// StoreReset is the last corrupt store moved aside; nil if none.
	StoreReset *dbm.Reset
	// Update is the update service's outcome file; nil when there is
	// none (or none is configured).
	Update *UpdateReport
}

// DefaultDegradedVarFile is where init says, in one line, why /var fell
// back to tmpfs; it exists only then. DefaultDegradedFirewallFile likewise
// says why the input filter could not be installed.
const (
	DefaultDegradedVarFile      = "/run/edgegate/degraded/var"
	DefaultDegradedFirewallFile = "/run/edgegate/degraded/firewall"
)

// Machine measures the host edgecore runs on.
type Machine struct {
	// FSPath is a directory on the filesystem reported as
	// ephemeral-storage; the nearest existing parent is measured.
	FSPath string
	// StateDir keeps a generated machine ID when the host has none
	// (/etc/machine-id missing, as on a gateway without systemd).
	StateDir string
	// Root prefixes /proc, /sys, /etc and /run paths; empty for the real
	// host.
	Root string
	// DegradedVarFile is init's marker of /var on tmpfs
	// (DefaultDegradedVarFile when empty).
	DegradedVarFile string
	// DegradedFirewallFile is init's marker of a gateway running without
	// its input filter (DefaultDegradedFirewallFile when empty).
	DegradedFirewallFile string
	// StorePath is edgecore's store, whose corrupt predecessors dbm keeps
	// moved aside beside it; empty: none reported.
	StorePath string
	// UpdateStatusFile is the update service's outcome file
	// (modules.edged.updateStatusFile); empty: not read.
	UpdateStatusFile string
}

// Facts reads everything at once. Identity fields that cannot be read are
// left empty rather than failing the whole report; resource figures that
// cannot be read are errors, since a node with wrong capacity misleads the
// scheduler.
func (m Machine) Facts() (Facts, error) {
	f := Facts{CPUs: runtime.NumCPU()}
	var err error
	if f.MemTotal, f.MemAvailable, err = m.memory(); err != nil {
		return f, err
	}
	if err := m.filesystem(&f); err != nil {
		return f, err
	}
	f.PIDMax, f.PIDs = m.pids()
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		f.KernelVersion = unix.ByteSliceToString(uts.Release[:])
	}
	f.OSImage = m.osImage()
	f.BootID = m.firstLine("/proc/sys/kernel/random/boot_id")
	f.MachineID = m.machineID()
	f.SystemUUID = m.systemUUID(f.MachineID)
	f.VarDegraded = m.degradedReason(m.DegradedVarFile, DefaultDegradedVarFile, "/var is not on the data partition")
	f.FirewallDegraded = m.degradedReason(m.DegradedFirewallFile, DefaultDegradedFirewallFile, "the input filter is not installed")
	f.StoreReset = m.lastStoreReset()
	if m.UpdateStatusFile != "" {
		f.Update = readUpdateStatus(m.path(m.UpdateStatusFile))
	}
	return f, nil
}

// maxDegradedText bounds the reason read from init's marker.
const maxDegradedText = 512

// degradedReason reads one of init's degraded markers (file, or def when
// file is empty): its first line says what runs degraded and why. The
// marker's existence is what counts; one that cannot be read still means
// degraded, described by what.
func (m Machine) degradedReason(file, def, what string) string {
	if file == "" {
		file = def
	}
	data, err := os.ReadFile(m.path(file))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ""
	case err != nil:
		return fmt.Sprintf("%s (%s cannot be read: %v)", what, file, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSpace(line)
	if len(line) > maxDegradedText {
		line = strings.ToValidUTF8(line[:maxDegradedText], "") + "…"
	}
	if line == "" {
		return fmt.Sprintf("%s (%s gives no reason)", what, file)
	}
	return line
}

// lastStoreReset is the newest corrupt store moved aside from StorePath.
// A directory that cannot be listed reports none: the reset was logged
// when it happened.
func (m Machine) lastStoreReset() *dbm.Reset {
	if m.StorePath == "" {
		return nil
	}
	r, ok, err := dbm.LastReset(m.StorePath)
	if err != nil || !ok {
		return nil
	}
	return &r
}

func (m Machine) path(p string) string { return filepath.Join(m.Root, p) }

func (m Machine) firstLine(p string) string {
	data, err := os.ReadFile(m.path(p))
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(strings.TrimRight(line, "\x00"))
}

// memory reads MemTotal and MemAvailable from /proc/meminfo.
func (m Machine) memory() (total, avail int64, err error) {
	f, err := os.Open(m.path("/proc/meminfo"))
	if err != nil {
		return 0, 0, fmt.Errorf("memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total = kb * 1024
		case "MemAvailable:":
			avail = kb * 1024
		}
	}
	if total == 0 {
		return 0, 0, errors.New("memory: no MemTotal in /proc/meminfo")
	}
	return total, avail, sc.Err()
}

// filesystem measures the filesystem holding FSPath (or its nearest
// existing parent: the kubelet root may not exist before the first pod).
func (m Machine) filesystem(f *Facts) error {
	dir := m.FSPath
	if dir == "" {
		dir = "/"
	}
	for {
		var st unix.Statfs_t
		err := unix.Statfs(dir, &st)
		if err == nil {
			bsize := int64(st.Bsize)
			f.FSCapacity = int64(st.Blocks) * bsize
			f.FSAvailable = int64(st.Bavail) * bsize
			f.FSInodes, f.FSInodesFree = st.Files, st.Ffree
			return nil
		}
		parent := filepath.Dir(dir)
		if !errors.Is(err, unix.ENOENT) || parent == dir {
			return fmt.Errorf("ephemeral storage: statfs %s: %w", dir, err)
		}
		dir = parent
	}
}

// pids reads the PID limit and the number of tasks in use (/proc/loadavg
// field 4 is "running/total").
func (m Machine) pids() (max, used int64) {
	max, _ = strconv.ParseInt(m.firstLine("/proc/sys/kernel/pid_max"), 10, 64)
	fields := strings.Fields(m.firstLine("/proc/loadavg"))
	if len(fields) >= 4 {
		if _, total, ok := strings.Cut(fields[3], "/"); ok {
			used, _ = strconv.ParseInt(total, 10, 64)
		}
	}
	return max, used
}

// osImage is PRETTY_NAME of os-release, as the kubelet reports it.
func (m Machine) osImage() string { return m.osRelease("PRETTY_NAME") }

// Board is the gateway's board as its image names it (VARIANT_ID of
// os-release), empty off an edgegate image.
func (m Machine) Board() string { return m.osRelease("VARIANT_ID") }

// osRelease reads one field of os-release(5).
func (m Machine) osRelease(field string) string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := os.ReadFile(m.path(p))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), field+"="); ok {
				return strings.Trim(v, `"'`)
			}
		}
	}
	return ""
}

// machineID is the host's /etc/machine-id, or one edgecore generated once
// and keeps in StateDir: a node must keep its identity across reboots.
func (m Machine) machineID() string {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if id := m.firstLine(p); id != "" {
			return id
		}
	}
	if m.StateDir == "" {
		return ""
	}
	file := filepath.Join(m.StateDir, "machine-id")
	if data, err := os.ReadFile(file); err == nil {
		if id := strings.TrimSpace(string(data)); len(id) == 32 {
			return id
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return ""
	}
	id := hex.EncodeToString(b[:])
	if err := atomicfile.MkdirAll(m.StateDir, 0o700); err != nil {
		return ""
	}
	if err := atomicfile.WriteFile(file, []byte(id+"\n"), 0o644); err != nil {
		return ""
	}
	return id
}

// systemUUID is the firmware's UUID where there is one (DMI on x86 and
// UEFI arm64), the board serial on a Raspberry Pi's device tree, else the
// machine ID in UUID form, so the field is never empty.
func (m Machine) systemUUID(machineID string) string {
	if id := m.firstLine("/sys/class/dmi/id/product_uuid"); id != "" {
		return id
	}
	if id := m.firstLine("/proc/device-tree/serial-number"); id != "" {
		return id
	}
	if len(machineID) == 32 {
		return machineID[0:8] + "-" + machineID[8:12] + "-" + machineID[12:16] + "-" + machineID[16:20] + "-" + machineID[20:32]
	}
	return ""
}
