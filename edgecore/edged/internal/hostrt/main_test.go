package hostrt_test

import (
	"os"
	"testing"

	"github.com/edgegate/edgegate/edgecore/edged/internal/hostrt"
)

// The tests and the benchmark run in a child of the test binary with the
// repository's containerd; see the package documentation.
func TestMain(m *testing.M) { os.Exit(hostrt.Main(m)) }
