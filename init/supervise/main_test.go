package supervise

import (
	"testing"

	"go.uber.org/goleak"
)

// PID 1 runs for years: a goroutine left behind per restart or per stop
// would add up, so every test must end with none of the package's own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
