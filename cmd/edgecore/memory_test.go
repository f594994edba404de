package main

import (
	"runtime/debug"
	"testing"
)

func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	tests := []struct {
		name      string
		env       string
		preset    int64
		wantLimit int64
	}{
		{name: "default when GOMEMLIMIT is unset", wantLimit: defaultMemoryLimit},
		{name: "GOMEMLIMIT wins", env: "100MiB", preset: 100 << 20, wantLimit: 100 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(before)
			if tt.preset != 0 {
				debug.SetMemoryLimit(tt.preset) // what the runtime did with GOMEMLIMIT at start
			}
			got := applyMemoryLimit(func(k string) string {
				if k == "GOMEMLIMIT" {
					return tt.env
				}
				return ""
			})
			if got != tt.wantLimit || debug.SetMemoryLimit(-1) != tt.wantLimit {
				t.Fatalf("limit %d (in force %d), want %d", got, debug.SetMemoryLimit(-1), tt.wantLimit)
			}
		})
	}
}
