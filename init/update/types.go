// Package update is the gateway's over-the-air update service and its
// client. The service (cmd/edgegate-update, supervised by init as
// `update`) takes a signed bundle over mutual TLS, pushed by an operator
// or pulled from a URL it is given, checks it against the keys the running
// slot carries (image/bundle), writes it into the slot that is not running
// (init/slotwrite) and, once it is on trial, asks init to reboot into it.
// It keeps the outcome in /var/lib/edgegate/update: status.json, which
// edgecore reports to the cloud, and last.json, the last update it ran.
//
// Trust goes both ways without a CA. The service accepts a connection only
// from a client whose certificate carries one of the operator keys the
// image was built with (/etc/edgegate/ota-clients.pem); the client trusts
// the service's self-signed certificate on first use, as ssh does, or
// against a pinned fingerprint.
package update

import (
	"fmt"
	"time"
)

// DefaultPort is the port the service listens on and a client dials when
// the target names none.
const DefaultPort = 8443

// Where the service keeps its files on the device.
const (
	ClientsPath     = "/etc/edgegate/ota-clients.pem"
	DefaultStateDir = "/var/lib/edgegate/update"
)

// Result is the reply to an update that was written and put on trial.
type Result struct {
	Slot      string `json:"slot"` // the slot written, now on trial
	Version   string `json:"version"`
	Build     uint64 `json:"build"`
	Board     string `json:"board"`
	Bytes     int64  `json:"bytes"` // bytes received (the bundle's size)
	ImageSize int64  `json:"imageSize"`
	Reboot    bool   `json:"reboot"` // a reboot into the trial was requested
}

// Status is the service's view of the gateway: the running slot's build,
// the slot state record, the update in progress and the last one run.
type Status struct {
	Board   string `json:"board"` // of the running slot (build.json)
	Version string `json:"version"`
	Build   uint64 `json:"build"`
	Running string `json:"running"` // the slot booted (kernel command line edgegate.slot)
	Active  string `json:"active"`  // the committed slot
	Trial   string `json:"trial,omitempty"`
	// TriesLeft is the trial slot's boots left.
	TriesLeft int `json:"triesLeft"`
	// Last is the slot state's last event (slotstate.Event.String()):
	// built, invalidated, armed, tried, committed, fell-back.
	Last     string `json:"last"`
	LastSlot string `json:"lastSlot,omitempty"`
	Seq      uint64 `json:"seq"`
	// Fingerprint is the sha256 of the service's TLS certificate (hex).
	Fingerprint string    `json:"fingerprint"`
	Update      *Progress `json:"update,omitempty"`     // the update in progress
	LastUpdate  *Outcome  `json:"lastUpdate,omitempty"` // the last update this service ran (last.json)
}

// The phases of an update in progress.
const (
	PhaseReceiving = "receiving" // reading the bundle's header and manifest
	PhaseWriting   = "writing"   // streaming the slot image into the target
	PhaseVerifying = "verifying" // reading the written image back
	PhaseTrial     = "trial"     // the slot is on trial; a reboot follows
)

// Progress is the update in progress.
type Progress struct {
	Phase   string `json:"phase"`
	Written int64  `json:"written"` // slot image bytes written
	Total   int64  `json:"total"`   // the slot image's size, once known
}

// Outcome is how an update ended: Error empty for one put on trial.
type Outcome struct {
	Time    time.Time `json:"time"`
	Version string    `json:"version"`
	Build   uint64    `json:"build"`
	Slot    string    `json:"slot"`
	Error   string    `json:"error,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	// Seq is the slot state's sequence number once the update ended: a
	// status whose seq is larger has moved on (a trial committed, a
	// fallback), and the outcome no longer describes it.
	Seq uint64 `json:"seq,omitempty"`
}

// Error is a refusal from the service: the HTTP status, the reason code
// (signature, unknown-key, board, older-build, format, truncated,
// oversized, read-back, busy, on-trial, ...) and the message naming the
// problem.
type Error struct {
	Status  int    `json:"-"`
	Reason  string `json:"reason"`
	Message string `json:"error"`
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("gateway: %s (HTTP %d)", e.Message, e.Status)
	}
	return fmt.Sprintf("gateway refused (%s): %s", e.Reason, e.Message)
}
