package boot

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/edgegate/edgegate/init/power"
	"github.com/edgegate/edgegate/init/rootfs"
	"github.com/edgegate/edgegate/init/timeline"
)

func TestInitramfsHandover(t *testing.T) {
	t.Setenv(rootfs.HandoverEnv, "start=0.800 root=0.900-1.200")
	h, ok, err := initramfsHandover()
	if err != nil || !ok || h.Started != 800*time.Millisecond || len(h.Steps) != 1 {
		t.Fatalf("handover %+v, %v, %v", h, ok, err)
	}
	if _, set := os.LookupEnv(rootfs.HandoverEnv); set {
		t.Error("the handover stays in init's environment, for the services to inherit")
	}
	if _, ok, err := initramfsHandover(); ok || err != nil {
		t.Errorf("without the variable: ok %v, %v", ok, err)
	}
	t.Setenv(rootfs.HandoverEnv, "root=1")
	if _, ok, err := initramfsHandover(); ok || err == nil {
		t.Errorf("a broken handover: ok %v, %v; want an error", ok, err)
	}
}

// TestKernelHandoff: the kernel's step ends where the initramfs began,
// not where this init was executed.
func TestKernelHandoff(t *testing.T) {
	execed := time.Now()
	if got := kernelHandoff(execed, rootfs.Handover{}, false); !got.Equal(execed) {
		t.Errorf("without an initramfs: %v, want init's exec %v", got, execed)
	}
	since := timeline.SinceKernelStart()
	if since < time.Second {
		t.Skip("the machine booted less than a second ago")
	}
	h := rootfs.Handover{Started: since - 500*time.Millisecond}
	got := time.Since(kernelHandoff(execed, h, true))
	if got < 450*time.Millisecond || got > 2*time.Second {
		t.Errorf("the initramfs began 500ms ago; kernelHandoff says %v ago", got)
	}
}

// TestRootFailed: a corrupt root is said on the console and becomes a
// reboot request once Serve takes them; other errors are not corruption.
func TestRootFailed(t *testing.T) {
	var out bytes.Buffer
	s := &System{Console: NewConsole(&out), rootBad: make(chan power.Request, 1)}
	s.serving.Store(true)
	if s.rootFailed(errors.New("reading /dev/dm-0: input/output error")) || s.rootFailed(nil) {
		t.Error("an error that is not corruption was taken for it")
	}
	if !s.rootFailed(&rootfs.CorruptError{Slot: "b", Err: errors.New("data block 7 does not match the root hash")}) {
		t.Fatal("a corrupt root was not taken for one")
	}
	select {
	case req := <-s.rootBad:
		if req.Action != power.Reboot || req.Cause != "a corrupt root image" {
			t.Errorf("request %+v", req)
		}
	default:
		t.Error("no reboot requested")
	}
	want := "edgegate: root image of slot b is corrupt: data block 7 does not match the root hash; the slot is bad, rebooting\n"
	if got := out.String(); got != want {
		t.Errorf("console %q, want %q", got, want)
	}
}
