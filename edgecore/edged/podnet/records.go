package podnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// record is what this package keeps of a set-up pod, one JSON file per
// pod next to libcni's cache: its addresses and host ports, so that a
// restarted edgecore rebuilds the host port table before the pods are set
// up again (which would otherwise drop the ports of every pod but the
// first).
type record struct {
	UID       string         `json:"uid"`
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	NetNS     string         `json:"netns"`
	Addresses []netip.Prefix `json:"addresses"`
	Gateway   netip.Addr     `json:"gateway,omitzero"`
	Ports     []PortMapping  `json:"ports,omitempty"`
}

func (r record) ref() string { return ref(r.UID, r.Namespace, r.Name) }

func (r record) attachment() Attachment {
	a := Attachment{NetNS: r.NetNS}
	for _, p := range r.Addresses {
		a.IPs = append(a.IPs, net.IP(p.Addr().AsSlice()))
	}
	if r.Gateway.IsValid() {
		a.Gateway = net.IP(r.Gateway.AsSlice())
	}
	return a
}

// records keeps the record files in one directory.
type records struct{ dir string }

const recordExt = ".json"

func (s records) path(uid string) string { return filepath.Join(s.dir, uid+recordExt) }

// write replaces the pod's record atomically: a crash leaves the old one
// or the new one, never a torn file.
func (s records) write(r record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("%s: record: %w", r.ref(), err)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("%s: record: %w", r.ref(), err)
	}
	tmp, err := os.CreateTemp(s.dir, ".tmp-"+r.UID+"-*")
	if err != nil {
		return fmt.Errorf("%s: record: %w", r.ref(), err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path(r.UID))
	}
	if err != nil {
		return fmt.Errorf("%s: record: %w", r.ref(), err)
	}
	return nil
}

// read returns the pod's record; ok is false when there is none.
func (s records) read(uid string) (r record, ok bool, err error) {
	data, err := os.ReadFile(s.path(uid))
	if errors.Is(err, os.ErrNotExist) {
		return record{}, false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &r)
	}
	if err != nil {
		return record{}, false, fmt.Errorf("pod %s: record: %w", uid, err)
	}
	return r, true, nil
}

func (s records) remove(uid string) error {
	if err := os.Remove(s.path(uid)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pod %s: record: %w", uid, err)
	}
	return nil
}

// uids lists the pods that have a record.
func (s records) uids() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pod records: %w", err)
	}
	var uids []string
	for _, e := range entries {
		name := e.Name()
		if uid, ok := strings.CutSuffix(name, recordExt); ok && !strings.HasPrefix(name, ".") && validUID(uid) == nil {
			uids = append(uids, uid)
		}
	}
	return uids, nil
}
