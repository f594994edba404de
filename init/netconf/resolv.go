package netconf

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// maxNameservers is the resolver's limit (MAXNS in resolv.h); more are
// ignored by libc and Go alike, so they are not written.
const maxNameservers = 3

// RenderResolvConf is the text of /etc/resolv.conf for the servers and
// search domains.
func RenderResolvConf(dns []netip.Addr, search []string) []byte {
	var b strings.Builder
	b.WriteString("# written by edgegate init\n")
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for i, d := range dns {
		if i == maxNameservers {
			break
		}
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	return []byte(b.String())
}

// WriteResolvConf replaces path atomically.
func WriteResolvConf(path string, dns []netip.Addr, search []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	if err := atomicfile.WriteFile(path, RenderResolvConf(dns, search), 0o644); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	return nil
}
