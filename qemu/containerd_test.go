package qemu

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/containerd"
	"github.com/edgegate/edgegate/init/containerd/ctr"
)

// The containerd tests boot an image with the container runtime and two
// services: containerd, and "ctrjobs", which runs edgegate-ctr jobs on a
// second virtio disk (/dev/vdb) holding a tar this test writes: a "jobs"
// file of edgegate-ctr commands plus the files they name. That disk is the
// control path into the guest: no shell, no login, no network service is
// added to the image for testing. Each command's outcome comes back on the
// serial console as "ctrjobs: job N ok: ..." or "... failed: ...".

// ctrdTimeout bounds one containerd step under emulation (TCG, one vCPU,
// a shared host): a container start takes seconds, not milliseconds.
const ctrdTimeout = 4 * time.Minute

const helloImage = "docker.io/edgegate/hello:test"

var ctrdImages = map[string]string{}

// ctrdImage returns b's image with containerd and the jobs service,
// building it once per test binary.
func ctrdImage(t testing.TB, b boards.Board) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if p, ok := ctrdImages[b.Name]; ok {
		return p
	}
	jobs := config.Service{
		Name: "ctrjobs", Path: containerd.CtrBinary, Args: []string{"jobs", "/dev/vdb"},
		DependsOn: []string{"containerd"}, Restart: config.RestartNever,
	}
	cfg := config.Config{
		Network:  config.Network{Interface: b.Net, Mode: config.ModeDHCP},
		Services: []config.Service{containerd.Service(), jobs},
	}
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(images.dir, b.Name+"-containerd.img")
	if _, err := image.Build(context.Background(), image.Options{
		Board: b, Version: "test", Output: out, Cache: testCache(t), Config: raw, Containerd: true,
	}); err != nil {
		t.Fatalf("building %s: %v", b.Name, err)
	}
	ctrdImages[b.Name] = out
	return out
}

// jobsDisk writes the jobs tar (a raw disk for QEMU) into dir.
func jobsDisk(t testing.TB, dir string, jobs []string, files map[string][]byte) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("jobs-%d.tar", time.Now().UnixNano()))
	f, err := os.Create(p)
	must(t, err)
	defer f.Close()
	tw := newTarWriter(f)
	tw.add(t, ctr.JobList, []byte(strings.Join(jobs, "\n")+"\n"))
	for n, data := range files {
		tw.add(t, n, data)
	}
	must(t, tw.Close())
	return p
}

func startWithJobs(t testing.TB, b boards.Board, disk, jobs string) *Machine {
	t.Helper()
	m, err := Start(context.Background(), Config{
		Board: b, Image: disk, Path: Direct,
		Extra: []string{"-drive", "file=" + jobs + ",format=raw,if=virtio"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func expectWithin(t testing.TB, m *Machine, pattern string, d time.Duration) []string {
	t.Helper()
	sub, err := m.Console.Expect(regexp.MustCompile(pattern), d)
	if err != nil {
		t.Fatalf("%v\n--- console tail ---\n%s", err, tail(m.Console.String(), 6000))
	}
	return sub
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// buildPayload compiles testdata/ctrhello for b's CPU.
func buildPayload(t testing.TB, b boards.Board) []byte {
	t.Helper()
	src, err := image.FindSource(".")
	must(t, err)
	out := filepath.Join(images.dir, "ctrhello-"+b.Name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./qemu/testdata/ctrhello")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.Arch.GOARCH(), "GOARM="+b.Arch.GOARM())
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building ctrhello: %v: %s", err, msg)
	}
	data, err := os.ReadFile(out)
	must(t, err)
	return data
}

// pongServer answers each line a client sends with "pong <line>".
func pongServer(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					fmt.Fprintf(c, "pong %s", line)
				}
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestContainerd boots each board twice with containerd. First boot:
// containerd becomes healthy; a tiny OCI image built here is imported and
// run on the CNI bridge (runc with pivot_root and the default seccomp
// profile: on an initramfs root that run would fail), and the container reaches a TCP server on the
// host through NAT (QEMU shows the host's loopback as 10.0.2.2); a
// tarball with a corrupted layer is refused naming the bad blob, leaves no
// image behind (nor replaces the good image of the same name), and
// containerd keeps answering; containerd is killed and init restarts it.
// Second boot: the image is still there and runs.
func TestContainerd(t *testing.T) {
	for _, b := range emulated(t) {
		t.Run(b.Name, func(t *testing.T) {
			port := pongServer(t)
			payload := buildPayload(t, b)
			hello := buildOCIArchive(t, helloImage, "hello", payload, b.Arch)
			// Another image, so its layer is not already in the content
			// store (containerd rightly skips blobs it has verified).
			broken := buildOCIArchive(t, "docker.io/edgegate/broken:test", "broken", payload, b.Arch)
			// A bad archive under the name of the good image: the good
			// record must survive it.
			impostor := buildOCIArchive(t, helloImage, "impostor", payload, b.Arch)
			token := fmt.Sprintf("token-%s-%d", b.Name, time.Now().UnixNano())
			disk := filepath.Join(t.TempDir(), "disk.img")
			must(t, CopyImage(ctrdImage(t, b), disk))

			jobs := jobsDisk(t, t.TempDir(), []string{
				"wait-healthy 60",
				"import hello.tar",
				"!import corrupt.tar",
				"!import impostor.tar",
				"health",
				"run " + helloImage + " 10.0.2.2:" + port + " " + token,
				"kill-daemon",
				"wait-healthy 120",
				"images",
			}, map[string][]byte{"hello.tar": hello.data, "corrupt.tar": broken.corrupted(t), "impostor.tar": impostor.corrupted(t)})
			m := startWithJobs(t, b, disk, jobs)
			expectWithin(t, m, `service containerd healthy`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: job \d+ ok: import hello.tar\r?\n`, ctrdTimeout)
			refused := expectWithin(t, m, `ctrjobs: job \d+ (ok|failed): !import corrupt.tar(.*)\r?\n`, ctrdTimeout)
			if refused[1] != "ok" || !strings.Contains(refused[2], "does not match its digest") {
				t.Errorf("corrupt tarball: %q, want refused naming the bad blob", refused[0])
			}
			expectWithin(t, m, `ctrjobs: job \d+ ok: !import impostor.tar: refused: .*does not match its digest`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: job \d+ ok: health\r?\n`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: hello from container: arch=`+b.Arch.GOARCH()+` `, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: container got reply: pong `+token+`\r?\n`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: job \d+ ok: run `, ctrdTimeout)
			// init may see the daemon die before ctrjobs prints that it killed it.
			expectAnyOrder(t, m, `ctrjobs: killed containerd pid \d+`, `service containerd exited .*restart in`)
			expectWithin(t, m, `service containerd (started|healthy)`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: job \d+ ok: wait-healthy 120`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: image `+regexp.QuoteMeta(helloImage)+` sha256:`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: 1 images\r?\n`, ctrdTimeout) // the refused one left nothing
			expectWithin(t, m, `ctrjobs: jobs done: 0 failed`, ctrdTimeout)
			powerdown(t, m)

			jobs = jobsDisk(t, t.TempDir(), []string{"wait-healthy 60", "images", "run " + helloImage}, nil)
			m = startWithJobs(t, b, disk, jobs)
			expectWithin(t, m, `data: /dev/vda4 mounted on /var \(existing filesystem`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: image `+regexp.QuoteMeta(helloImage)+` sha256:`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: 1 images\r?\n`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: hello from container`, ctrdTimeout)
			expectWithin(t, m, `ctrjobs: jobs done: 0 failed`, ctrdTimeout)
			powerdown(t, m)
		})
	}
}
