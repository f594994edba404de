package testcloud

import "testing"

// ForTest starts a cloud that closes when the test ends.
func ForTest(tb testing.TB, opts Options) *Cloud {
	tb.Helper()
	c, err := Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}
