// Package buildinfo is the record the image builder leaves in the
// initramfs for init: which board and version this image is, and where the
// board keeps its console, disk and network. The builder writes it, init
// reads it; it is the one format both sides share.
package buildinfo

import (
	"encoding/json"
	"fmt"
	"os"
)

// Path is where the record lives inside the image.
const Path = "/etc/edgegate/build.json"

// Info describes one built image.
type Info struct {
	Version string `json:"version"`
	// Build is the monotonic build number (`edgegate build
	// --build-number`, by default the build's epoch): an update bundle
	// carries its image's, and a gateway refuses one older than its own.
	Build         uint64 `json:"build,omitempty"`
	Board         string `json:"board"`
	Arch          string `json:"arch"`
	KernelRelease string `json:"kernelRelease"`
	Console       string `json:"console"`
	// Disk and PartSep name the boot disk's partitions: Disk+PartSep+N.
	Disk    string `json:"disk"`
	PartSep string `json:"partSep"`
	Net     string `json:"net"`
}

// Partition returns the device path of partition n of the boot disk.
func (i Info) Partition(n int) string {
	return fmt.Sprintf("/dev/%s%s%d", i.Disk, i.PartSep, n)
}

// Marshal encodes the record, indented, with a final newline.
func (i Info) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(i, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Parse decodes and checks a record.
func Parse(b []byte) (Info, error) {
	var i Info
	if err := json.Unmarshal(b, &i); err != nil {
		return Info{}, fmt.Errorf("build info: %w", err)
	}
	if i.Board == "" || i.Disk == "" {
		return Info{}, fmt.Errorf("build info: board and disk are required")
	}
	return i, nil
}

// Read loads the record from path.
func Read(path string) (Info, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Info{}, fmt.Errorf("build info: %w", err)
	}
	return Parse(b)
}
