package podnet

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func TestRecords(t *testing.T) {
	s := records{dir: filepath.Join(t.TempDir(), "pods")}
	if uids, err := s.uids(); err != nil || len(uids) != 0 {
		t.Fatalf("uids of a missing directory = %v, %v", uids, err)
	}
	a := record{UID: "uid-a", Namespace: "ns", Name: "a", NetNS: "/run/netns/edgegate-uid-a",
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.88.0.2/16")}, Gateway: netip.MustParseAddr("10.88.0.1"),
		Ports: []PortMapping{{HostPort: 80, ContainerPort: 8080, Protocol: "TCP"}}}
	b := record{UID: "uid-b", Addresses: []netip.Prefix{netip.MustParsePrefix("10.88.0.3/16")}}
	for _, r := range []record{a, b, a} {
		if err := s.write(r); err != nil {
			t.Fatal(err)
		}
	}
	// Not records: a leftover temporary file and a name that is no UID.
	for _, name := range []string{".tmp-uid-c-123", "bad name.json"} {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	uids, err := s.uids()
	if err != nil || !slices.Equal(uids, []string{"uid-a", "uid-b"}) {
		t.Fatalf("uids = %v, %v; want [uid-a uid-b]", uids, err)
	}
	got, ok, err := s.read("uid-a")
	if err != nil || !ok || !reflect.DeepEqual(got, a) {
		t.Fatalf("read = %+v, %v, %v; want %+v", got, ok, err, a)
	}
	if err := s.remove("uid-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.remove("uid-a"); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, ok, err := s.read("uid-a"); ok || err != nil {
		t.Fatalf("read after remove = %v, %v", ok, err)
	}
	if err := os.WriteFile(s.path("uid-d"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.read("uid-d"); err == nil {
		t.Fatal("reading a torn record: no error")
	}
}

func TestRecordAttachment(t *testing.T) {
	r := record{NetNS: "/run/netns/edgegate-x",
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.88.0.2/16"), netip.MustParsePrefix("fd00::2/64")},
		Gateway:   netip.MustParseAddr("10.88.0.1")}
	a := r.attachment()
	if a.NetNS != r.NetNS || len(a.IPs) != 2 || !a.IPs[0].Equal(net.ParseIP("10.88.0.2")) ||
		!a.IPs[1].Equal(net.ParseIP("fd00::2")) || !a.Gateway.Equal(net.ParseIP("10.88.0.1")) {
		t.Fatalf("attachment = %+v", a)
	}
	if a := (record{}).attachment(); a.Gateway != nil {
		t.Fatalf("attachment without gateway = %+v", a)
	}
}
