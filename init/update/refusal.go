package update

import (
	"errors"
	"io"
	"net/http"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotwrite"
)

// Reason codes beyond the bundle's own.
const (
	ReasonBusy     = "busy"
	ReasonOnTrial  = "on-trial"
	ReasonRequest  = "request"  // a request the service cannot read (bad JSON, bad URL)
	ReasonDownload = "download" // a pull whose source did not deliver
	ReasonInternal = "internal"
)

// refusals maps the sentinels of image/bundle and init/slotwrite to a
// status and reason, first match wins.
var refusals = []struct {
	err    error
	status int
	reason string
}{
	{bundle.ErrBadSignature, http.StatusBadRequest, "signature"},
	{bundle.ErrUnknownKey, http.StatusBadRequest, "unknown-key"},
	{bundle.ErrOtherBoard, http.StatusBadRequest, "board"},
	{bundle.ErrOlderBuild, http.StatusBadRequest, "older-build"},
	{bundle.ErrBelowMinimum, http.StatusBadRequest, "min-build"},
	{bundle.ErrNotBundle, http.StatusBadRequest, "format"},
	{bundle.ErrMalformed, http.StatusBadRequest, "format"},
	{bundle.ErrUnsupported, http.StatusBadRequest, "format"},
	{bundle.ErrTruncated, http.StatusBadRequest, "truncated"},
	// The body ended before its Content-Length (or chunked end): the
	// client went away mid-stream.
	{io.ErrUnexpectedEOF, http.StatusBadRequest, "truncated"},
	{bundle.ErrCorrupt, http.StatusBadRequest, "corrupt"},
	{bundle.ErrOversized, http.StatusRequestEntityTooLarge, "oversized"},
	{slotwrite.ErrTooLarge, http.StatusRequestEntityTooLarge, "oversized"},
	{slotwrite.ErrReadBack, http.StatusUnprocessableEntity, "read-back"},
	{slotwrite.ErrRunningSlot, http.StatusInternalServerError, "running-slot"},
}

// refusal is the Error a failed update is reported as.
func refusal(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Reason: "oversized", Message: err.Error()}
	}
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return &Error{Status: r.status, Reason: r.reason, Message: err.Error()}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Reason: ReasonInternal, Message: err.Error()}
}
