package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/image"
)

// binaryBudget is the most the arm64 edgecore may weigh, as the image
// carries it (stripped, image.BuildTags).
//
// Before edged it was 8.5 MiB; edged on containerd must not double it
// (issue 10). The containerd part costs about 1 MiB since edgecore speaks
// containerd's gRPC API directly and pulls through the daemon's transfer
// service (it was 25 MiB with containerd's Go client). Most of the rest
// is the Kubernetes types: protobuf's support for old-style messages,
// which gRPC and containerd's API link, calls Marshal and Unmarshal
// through interfaces, so the linker keeps the generated protobuf code of
// every k8s.io/api type edgecore can hold (about 1.8 MB), and
// k8s.io/apimachinery brings its CBOR and JSON codecs in with them. The
// budget is today's size with room for the features still planned; a
// change that needs more must say why here.
const binaryBudget = 19 << 20

// TestBinarySize fails when the arm64 binary outgrows binaryBudget.
func TestBinarySize(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiles edgecore for arm64")
	}
	size := gatewayBinarySize(t, "arm64", "")
	t.Logf("arm64 edgecore: %d bytes (%.2f MiB), budget %.2f MiB", size, mib(size), mib(binaryBudget))
	if size > binaryBudget {
		t.Errorf("arm64 edgecore is %.2f MiB, over its budget of %.2f MiB: see what grew with go tool nm -size -sort size on an unstripped build",
			mib(size), mib(binaryBudget))
	}
}

// BenchmarkBinarySize reports the size of edgecore as the images carry
// it, for both board architectures. Run it with -benchtime=1x: the
// figure is the same every iteration.
func BenchmarkBinarySize(b *testing.B) {
	arm64 := gatewayBinarySize(b, "arm64", "")
	armv7 := gatewayBinarySize(b, "arm", "7")
	for range b.N {
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(mib(arm64), "arm64-MiB")
	b.ReportMetric(mib(armv7), "armv7-MiB")
}

// gatewayBinarySize compiles cmd/edgecore for linux/goarch as the image
// builder does (static, -trimpath, stripped, image.BuildTags) and returns
// its size in bytes.
func gatewayBinarySize(tb testing.TB, goarch, goarm string) int64 {
	tb.Helper()
	src, err := image.FindSource(".")
	if err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(tb.TempDir(), "edgecore")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", image.BuildTags,
		"-ldflags=-s -w", "-o", out, "./cmd/edgecore")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM="+goarm)
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("compiling edgecore for %s: %v: %s", goarch, err, strings.TrimSpace(string(msg)))
	}
	st, err := os.Stat(out)
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
