package qemu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
)

// The init tests boot an image whose config runs two services (testsvc:
// one steady, one crashing) and asks an NTP server this test binary runs;
// QEMU's user network shows the host's loopback to the guest as 10.0.2.2.

// ntpOffset is how far the test's NTP server runs ahead of the host, so a
// guest clock set from it is told apart from one set by the RTC.
const ntpOffset = 7 * 24 * time.Hour

var initImages struct {
	ntpAddr string
	built   map[string]string
}

// initImage returns b's image with the init test config, building it once.
func initImage(t testing.TB, b boards.Board) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if initImages.ntpAddr == "" {
		initImages.ntpAddr = startNTPServer(t, ntpOffset)
		initImages.built = map[string]string{}
	}
	if p, ok := initImages.built[b.Name]; ok {
		return p
	}
	_, port, _ := net.SplitHostPort(initImages.ntpAddr)
	svc := buildTestService(t, b)
	cfg := fmt.Sprintf(`hostname: gw-test
network:
  interface: %s
  mode: dhcp
ntp:
  servers: ["10.0.2.2:%s"]
services:
- name: steady
  path: /usr/bin/testsvc
  args: [serve]
  gracePeriod: 5s
- name: crasher
  path: /usr/bin/testsvc
  args: [crash]
  dependsOn: [steady]
`, b.Net, port)
	out := filepath.Join(images.dir, b.Name+"-init.img")
	_, err := image.Build(t.Context(), image.Options{
		Board: b, Version: "test", Output: out, Cache: testCache(t),
		Config: []byte(cfg),
		Extra:  []image.ExtraFile{{Path: "/usr/bin/testsvc", Data: svc, Mode: 0o755}},
	})
	if err != nil {
		t.Fatalf("building %s: %v", b.Name, err)
	}
	initImages.built[b.Name] = out
	return out
}

func initDisk(t testing.TB, b boards.Board) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "disk.img")
	if err := CopyImage(initImage(t, b), dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// buildTestService compiles testdata/testsvc for b's architecture.
func buildTestService(t testing.TB, b boards.Board) []byte {
	t.Helper()
	src, err := image.FindSource(".")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(images.dir, "testsvc-"+b.Name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./qemu/testdata/testsvc")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.Arch.GOARCH(), "GOARM="+b.Arch.GOARM())
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testsvc: %v: %s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestInit boots each board twice. The first boot formats /var, leases
// an address from QEMU's DHCP, sets the clock from the test's NTP server,
// starts both services, restarts the crashing one with growing delays,
// reaps an orphan, and stops everything on the power key. The disk then
// holds a clean filesystem with the crashing service's log, and the
// second boot mounts it as it is.
func TestInit(t *testing.T) {
	for _, b := range emulated(t) {
		t.Run(b.Name, func(t *testing.T) {
			disk := initDisk(t, b)
			m := start(t, b, disk, Direct)
			expect(t, m, `edgegate: mounts: .*cgroup2 controllers delegated: .*\bmemory\b`)
			expect(t, m, `edgegate: data: formatting /dev/vda4 \(first boot\)`)
			expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(formatted on first boot\)`)
			expect(t, m, `edgegate: config: using /etc/edgegate/config.yaml`)
			expect(t, m, `edgegate: hostname gw-test\r?\n`)
			expect(t, m, `edgegate: watchdog: /dev/watchdog fed every`)
			// The services start while the uplink and the clock come up,
			// in the background: those lines and the ready line come in
			// any order.
			lines := expectAnyOrder(t, m,
				`edgegate: net: eth0 10\.0\.2\.15/24 via 10\.0\.2\.2 dns 10\.0\.2\.3 \(dhcp bound`,
				`edgegate: clock: set from ntp 10\.0\.2\.2:\d+ .*; time (\S+)\r?\n`,
				`edgegate: services: all 2 started \d+ms after init exec`)
			checkNTPTime(t, lines[1][1])
			checkBackoff(t, m)
			console := m.Console.String()
			if !strings.Contains(console, "edgegate: ready version=test") {
				t.Error("no ready line")
			}
			checkOrphanReaped(t, console)
			powerdown(t, m)
			checkStopOrder(t, m.Console.String())

			part := partition(t, disk, 4)
			checkClean(t, part)
			log := debugfsCat(t, part, "/log/crasher.log")
			if n := strings.Count(log, "crasher run pid"); n < 3 {
				t.Errorf("/var/log/crasher.log holds %d runs, want at least 3:\n%s", n, log)
			}

			m = start(t, b, disk, Direct)
			expect(t, m, `edgegate: data: e2fsck: /dev/vda4 clean\r?\n`)
			expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(existing filesystem\)`)
			expect(t, m, `edgegate: boot count 2\r?\n`)
			expect(t, m, `edgegate: ready`)
			powerdown(t, m)
			if strings.Contains(m.Console.String(), "formatting") {
				t.Error("second boot formatted the data partition again")
			}
		})
	}
}

// TestInitPowerCutDuringFormat cuts the power while the first boot makes
// the data filesystem; the next boot finishes the job and comes up.
func TestInitPowerCutDuringFormat(t *testing.T) {
	for _, b := range emulated(t) {
		t.Run(b.Name, func(t *testing.T) {
			disk := initDisk(t, b)
			m := start(t, b, disk, Direct)
			expect(t, m, `edgegate: data: formatting /dev/vda4 \(first boot\)`)
			m.Kill()
			// The console line comes once the "formatting" record is on
			// the disk, so the record says "formatting", or "done" when
			// mke2fs won the race against the kill.
			rec := formatRecord(t, disk)
			t.Logf("format record after the power cut: %q", rec)
			want := []string{
				`edgegate: data: formatting /dev/vda4 \(the first-boot format was interrupted; formatting again\)`,
				`edgegate: data: /dev/vda4 mounted on /var \(formatted on first boot, after an interrupted format\)`,
			}
			switch {
			case strings.HasSuffix(rec, "state: formatting\n"):
			case strings.HasSuffix(rec, "state: done\n"):
				want = []string{`edgegate: data: e2fsck: /dev/vda4 (clean|repaired)`, `edgegate: data: /dev/vda4 mounted on /var \(existing filesystem\)`}
			default:
				t.Fatalf("format record %q after the power cut, want formatting or done", rec)
			}

			m = start(t, b, disk, Direct)
			for _, w := range want {
				expect(t, m, w)
			}
			expect(t, m, `edgegate: ready`)
			powerdown(t, m)
			checkClean(t, partition(t, disk, 4))
		})
	}
}

func checkNTPTime(t *testing.T, guest string) {
	t.Helper()
	got, err := time.Parse(time.RFC3339, guest)
	if err != nil {
		t.Fatalf("guest time %q: %v", guest, err)
	}
	want := time.Now().Add(ntpOffset)
	if d := got.Sub(want); d < -time.Minute || d > time.Minute {
		t.Errorf("guest time %v, want about %v (the NTP server's)", got, want)
	}
}

// checkBackoff requires the crashing service to be restarted with
// doubling delays: 1s, 2s, 4s.
func checkBackoff(t *testing.T, m *Machine) {
	t.Helper()
	for _, d := range []string{"1s", "2s", "4s"} {
		expect(t, m, `edgegate: service crasher exited status 1, restart in `+d+`\r?\n`)
	}
	expect(t, m, `crasher: crasher failing on purpose`)
}

// checkOrphanReaped: steady's grandchild outlives its parent and is
// reaped by init.
func checkOrphanReaped(t *testing.T, console string) {
	t.Helper()
	m := regexp.MustCompile(`steady: orphan pid (\d+)`).FindStringSubmatch(console)
	if m == nil {
		t.Fatal("steady did not leave an orphan")
	}
	if !strings.Contains(console, "edgegate: reaped orphan pid "+m[1]+" (status 0)") {
		t.Errorf("orphan %s was not reaped by init", m[1])
	}
}

// checkStopOrder: crasher depends on steady, so it stops first.
func checkStopOrder(t *testing.T, console string) {
	t.Helper()
	key := console[strings.LastIndex(console, "power off requested"):]
	steady := strings.Index(key, "service steady stopped")
	if steady < 0 {
		t.Fatalf("steady was not stopped on power off:\n%s", key)
	}
	if !strings.Contains(key, "steady: steady stopping") {
		t.Errorf("steady did not get SIGTERM before it stopped:\n%s", key)
	}
	if c := strings.Index(key, "service crasher stopped"); c > steady {
		t.Errorf("crasher stopped after steady, which it depends on:\n%s", key)
	}
}

// partition copies partition n of a disk image to a file.
func partition(t *testing.T, disk string, n int) string {
	t.Helper()
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mbr := make([]byte, 512)
	if _, err := f.ReadAt(mbr, 0); err != nil {
		t.Fatal(err)
	}
	e := mbr[446+16*(n-1):]
	start := int64(binary.LittleEndian.Uint32(e[8:])) * 512
	size := int64(binary.LittleEndian.Uint32(e[12:])) * 512
	data := make([]byte, size)
	if _, err := f.ReadAt(data, start); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), fmt.Sprintf("part%d.img", n))
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkClean runs the host's e2fsck read-only: a filesystem unmounted
// cleanly needs no check.
func checkClean(t *testing.T, part string) {
	t.Helper()
	out, err := exec.Command("e2fsck", "-n", part).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("clean")) {
		t.Errorf("data partition not clean after power off: %v\n%s", err, out)
	}
}

func debugfsCat(t *testing.T, part, p string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "cat "+p, part).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", p, err)
	}
	return string(out)
}

// formatRecord reads the format record init keeps in the last 4 KiB of
// the data partition.
func formatRecord(t *testing.T, disk string) string {
	t.Helper()
	b, err := os.ReadFile(partition(t, disk, 4))
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimRight(b[len(b)-4096:], "\x00"))
}

// startNTPServer answers NTP client requests on the host's loopback with
// a clock running offset ahead (RFC 5905 server mode, stratum 2).
func startNTPServer(t testing.TB, offset time.Duration) string {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 512)
		for {
			n, peer, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n < 48 || buf[0]&7 != 3 {
				continue
			}
			recv := time.Now().Add(offset)
			out := make([]byte, 48)
			out[0] = (buf[0]>>3&7)<<3 | 4 // LI 0, client's version, mode 4
			out[1] = 2                    // stratum
			out[2] = buf[2]
			out[3] = 0xEC
			copy(out[12:16], "TEST")
			binary.BigEndian.PutUint64(out[16:], ntpTime(recv.Add(-30*time.Second)))
			copy(out[24:32], buf[40:48])
			binary.BigEndian.PutUint64(out[32:], ntpTime(recv))
			binary.BigEndian.PutUint64(out[40:], ntpTime(time.Now().Add(offset)))
			conn.WriteToUDP(out, peer)
		}
	}()
	return conn.LocalAddr().String()
}

func ntpTime(t time.Time) uint64 {
	return uint64(t.Unix()+2208988800)<<32 | uint64(t.Nanosecond())<<32/1e9
}
