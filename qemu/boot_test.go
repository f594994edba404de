package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/edgecore/kubeapi"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/debpkg"
)

// The QEMU tests boot the real images of every emulated board. Each board's
// image is built once per test binary and copied for every boot, so each
// test starts from the image exactly as it would be flashed.

const bootTimeout = 90 * time.Second

var images struct {
	sync.Mutex
	dir   string
	built map[string]string
}

func testCache(testing.TB) *debpkg.Cache { return debpkg.Default() }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgegate-qemu-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	images.dir = dir
	images.built = map[string]string{}
	code := m.Run()
	kubeapi.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// builtImage returns the path of b's image, building it on first use.
func builtImage(t testing.TB, b boards.Board) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if p, ok := images.built[b.Name]; ok {
		return p
	}
	out := filepath.Join(images.dir, b.Name+".img")
	_, err := image.Build(context.Background(), image.Options{
		Board: b, Version: "test", Output: out, Cache: testCache(t),
	})
	if err != nil {
		t.Fatalf("building %s: %v", b.Name, err)
	}
	images.built[b.Name] = out
	return out
}

// freshDisk copies b's image for one test.
func freshDisk(t testing.TB, b boards.Board) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "disk.img")
	if err := CopyImage(builtImage(t, b), dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func emulated(t *testing.T) []boards.Board {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	var bs []boards.Board
	for _, b := range boards.All() {
		if b.Emulation != nil {
			bs = append(bs, b)
		}
	}
	return bs
}

func start(t testing.TB, b boards.Board, disk string, path BootPath) *Machine {
	t.Helper()
	cfg := Config{Board: b, Image: disk, Path: path}
	if path == UBoot {
		fw, err := Firmware(context.Background(), testCache(t), b)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Firmware = fw
	}
	m, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func expect(t testing.TB, m *Machine, pattern string) []string {
	t.Helper()
	sub, err := m.Console.Expect(regexp.MustCompile(pattern), bootTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// powerdown presses the power button and requires a clean unmount and
// QEMU's exit.
func powerdown(t testing.TB, m *Machine) {
	t.Helper()
	if err := m.Powerdown(); err != nil {
		t.Fatal(err)
	}
	expect(t, m, `edgegate: power off requested by power key`)
	expect(t, m, `edgegate: data: unmounted cleanly`)
	if err := m.Wait(time.Minute); err != nil {
		t.Fatalf("QEMU after power off: %v\n%s", err, m.Console.String())
	}
}

// TestBoot boots each board both ways and checks what init reports.
func TestBoot(t *testing.T) {
	for _, b := range emulated(t) {
		for _, path := range []BootPath{Direct, UBoot} {
			t.Run(b.Name+"/"+path.String(), func(t *testing.T) {
				m := start(t, b, freshDisk(t, b), path)
				if path == UBoot {
					expect(t, m, `edgegate: booting slot a from partition 2`)
				}
				expect(t, m, `edgegate: init version=test board=`+b.Name+` slot=a`)
				expect(t, m, `edgegate: modules: \d+ loaded, 0 failed`)
				expect(t, m, `edgegate: disk vda: vda vda1 vda2 vda3 vda4\r?\n`)
				expect(t, m, `edgegate: net: (\S+ )*eth0( \S+)*\r?\n`)
				expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(formatted on first boot\)`)
				expect(t, m, `edgegate: ready version=test slot=a board=`+b.Name+`\r?\n`)
				t.Logf("ready after %v", time.Since(m.Started).Round(time.Millisecond))
				powerdown(t, m)
			})
		}
	}
}

// TestDataSurvivesReboot powers a gateway off and on again: the second boot
// finds the filesystem the first one made, with what it wrote.
func TestDataSurvivesReboot(t *testing.T) {
	for _, b := range emulated(t) {
		t.Run(b.Name, func(t *testing.T) {
			disk := freshDisk(t, b)
			m := start(t, b, disk, UBoot)
			expect(t, m, `formatted on first boot`)
			expect(t, m, `edgegate: boot count 1\r?\n`)
			expect(t, m, `edgegate: ready`)
			powerdown(t, m)

			m = start(t, b, disk, UBoot)
			expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(existing filesystem\)`)
			expect(t, m, `edgegate: boot count 2\r?\n`)
			expect(t, m, `edgegate: ready`)
			powerdown(t, m)
		})
	}
}
