package update

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// DefaultKnownGateways is the client's trust-on-first-use file:
// $XDG_CONFIG_HOME/edgegate/known_gateways, or ~/.config/edgegate/known_gateways.
func DefaultKnownGateways() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("known gateways: %w", err)
	}
	return filepath.Join(dir, "edgegate", "known_gateways"), nil
}

// knownGateways is the file of gateways a client has trusted, one
// `host:port sha256hex` a line, as ssh's known_hosts: the first
// connection to a gateway records its certificate's fingerprint, and a
// later one with another fingerprint is refused.
type knownGateways struct {
	path string
	mu   sync.Mutex // one Client's connections record one at a time
}

// check accepts fp for addr when the file records it, and records it
// when the file does not know addr yet.
func (k *knownGateways) check(addr, fp string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	data, err := os.ReadFile(k.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("known gateways: %w", err)
	}
	known, line, err := k.lookup(data, addr)
	switch {
	case err != nil:
		return err
	case known == fp:
		return nil
	case known != "":
		return fmt.Errorf("gateway %s presented a certificate with sha256 %s, but %s:%d records %s: "+
			"if the gateway's data partition was wiped it made a new certificate (check the fingerprint in its log), "+
			"then delete that line; otherwise something else answers at that address", addr, fp, k.path, line, known)
	}
	return k.record(data, addr, fp)
}

// lookup finds addr's fingerprint and its line number; "" when absent.
func (k *knownGateways) lookup(data []byte, addr string) (string, int, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || !isFingerprint(f[1]) {
			return "", 0, fmt.Errorf("%s:%d: want \"host:port sha256hex\", got %q", k.path, n, line)
		}
		if f[0] == addr {
			return f[1], n, nil
		}
	}
	return "", 0, sc.Err()
}

func (k *knownGateways) record(data []byte, addr, fp string) error {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	data = append(data, addr+" "+fp+"\n"...)
	if err := atomicfile.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return fmt.Errorf("known gateways: %w", err)
	}
	if err := atomicfile.WriteFile(k.path, data, 0o600); err != nil {
		return fmt.Errorf("known gateways: %w", err)
	}
	klog.Infof("update: first connection to gateway %s: its certificate sha256 %s is now recorded in %s", addr, fp, k.path)
	return nil
}
