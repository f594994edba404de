package prober

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind: workers,
// probe connections and gRPC clients must all be gone when Run or Once return.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
