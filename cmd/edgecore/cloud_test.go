package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCloudHandler: GET /cloud on the inspect socket tells init whether
// edgecore is connected (200), still trying (503), or has no cloud to
// reach (404), which ends init's wait for the boot timeline's cloud step.
func TestCloudHandler(t *testing.T) {
	for _, tt := range []struct {
		name               string
		enabled, connected bool
		want               int
	}{
		{"connected", true, true, http.StatusOK},
		{"not yet", true, false, http.StatusServiceUnavailable},
		{"edgehub disabled", false, false, http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			cloudHandler(tt.enabled, func() bool { return tt.connected }).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cloud", nil))
			if rec.Code != tt.want {
				t.Errorf("GET /cloud = %d %q, want %d", rec.Code, rec.Body.String(), tt.want)
			}
		})
	}
}
