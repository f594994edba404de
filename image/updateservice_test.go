package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/update"
)

// TestUpdateServiceConfig: with operator keys, the device config gets the
// update service (tcp health on its port, restart always, no
// dependencies) and the port in firewall.allowInput, in the default
// config and in a given one; a given one naming a service `update` is
// refused; without keys the config is left as it is.
func TestUpdateServiceConfig(t *testing.T) {
	client, _ := publicKeyFile(t, 7)
	b := boards.QEMUArm64()
	given := []byte("hostname: gw1\nnetwork: {interface: eth0, mode: dhcp}\nfirewall: {allowInput: [{port: 8443}, {port: 80}]}\n")
	cases := []struct {
		name      string
		o         Options
		raw       []byte
		port      int
		allowed   []config.InputPort
		wantHost  string
		wantOther []string // the other services, in order
	}{
		{"default config", Options{Board: b, Containerd: true, Edgecore: true, UpdateClients: [][]byte{client}}, nil,
			update.DefaultPort, []config.InputPort{{Port: 8443, Protocol: "tcp"}}, "edgegate", []string{"containerd", "edgecore"}},
		{"given config, port already open", Options{Board: b, UpdateClients: [][]byte{client}}, given,
			update.DefaultPort, []config.InputPort{{Port: 8443, Protocol: "tcp"}, {Port: 80, Protocol: "tcp"}}, "gw1", nil},
		{"other port", Options{Board: b, UpdateClients: [][]byte{client}, UpdatePort: 9443}, given,
			9443, []config.InputPort{{Port: 8443, Protocol: "tcp"}, {Port: 80, Protocol: "tcp"}, {Port: 9443, Protocol: "tcp"}}, "gw1", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := c.raw
			if raw == nil {
				var err error
				if raw, err = c.o.defaultConfig(); err != nil {
					t.Fatal(err)
				}
			}
			out, err := c.o.withUpdateService(raw)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := CheckConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range cfg.Services {
				names = append(names, s.Name)
			}
			if want := append(slices.Clone(c.wantOther), "update"); !slices.Equal(names, want) {
				t.Fatalf("services %v, want %v", names, want)
			}
			s := cfg.Services[len(cfg.Services)-1]
			if s.Path != "/usr/bin/edgegate-update" || s.Health.Kind != config.HealthTCP || !strings.HasSuffix(s.Health.Address, ":"+strconv.Itoa(c.port)) ||
				s.Restart != config.RestartAlways || len(s.DependsOn) != 0 || !slices.Equal(s.Args, []string{"--listen", ":" + strconv.Itoa(c.port)}) {
				t.Errorf("update service %+v", s)
			}
			if !slices.Equal(cfg.Firewall.AllowInput, c.allowed) {
				t.Errorf("allowInput %v, want %v", cfg.Firewall.AllowInput, c.allowed)
			}
			if cfg.Hostname != c.wantHost {
				t.Errorf("hostname %q: the given config was not kept", cfg.Hostname)
			}
		})
	}
	clash := []byte("services: [{name: update, path: /bin/x}]\n")
	if _, err := (Options{Board: b, UpdateClients: [][]byte{client}}).withUpdateService(clash); err == nil || !strings.Contains(err.Error(), `services[0]: the name "update"`) {
		t.Errorf("a config with its own update service: %v", err)
	}
	if out, err := (Options{Board: b}).withUpdateService(given); err != nil || !bytes.Equal(out, given) {
		t.Errorf("without clients the config changed: %q, %v", out, err)
	}
}

// TestUpdateClientsRefused: a client key file that is not one public key
// fails the build before anything is compiled, naming the file.
func TestUpdateClientsRefused(t *testing.T) {
	good, k := publicKeyFile(t, 1)
	priv, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Board: boards.QEMUArm64(), UpdateClients: [][]byte{good, priv}, Progress: func(string, ...any) {}}
	if err := o.addUpdateService(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "update client 2") {
		t.Errorf("a private key as client: %v", err)
	}
	o = Options{Board: boards.QEMUArm64(), UpdateClients: [][]byte{good}, UpdatePort: 70000}
	if err := o.addUpdateService(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "70000") {
		t.Errorf("port 70000: %v", err)
	}
}

// TestBuildUpdateService builds an image with two operator keys: the root
// image carries the service's binary, the clients file (sorted, each key
// once) and the service in init's config; built again with the keys in
// another order, it is the same image, byte for byte.
func TestBuildUpdateService(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a whole image")
	}
	b := boards.QEMUArm64()
	a, _ := publicKeyFile(t, 1)
	c, _ := publicKeyFile(t, 2)
	img := filepath.Join(t.TempDir(), "gw.img")
	res, err := Build(context.Background(), Options{Board: b, Version: "test", Output: img, Cache: testCache(t),
		UpdateClients: [][]byte{c, a, c}, UpdateKeys: [][]byte{a}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(context.Background(), Options{Board: b, Version: "test", Output: filepath.Join(t.TempDir(), "again.img"), Cache: testCache(t),
		UpdateClients: [][]byte{a, c}, UpdateKeys: [][]byte{a}})
	if err != nil {
		t.Fatal(err)
	}
	if again.SHA256 != res.SHA256 {
		t.Errorf("two builds with the same clients differ: %s vs %s", res.SHA256, again.SHA256)
	}
	spec, _ := checkInitramfs(t, b, img)
	root := extractRoot(t, img, spec, res.RootSize)
	clients, err := os.ReadFile(filepath.Join(root, update.ClientsPath))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := keysFile("update client", [][]byte{a, c})
	if err != nil || !bytes.Equal(clients, want) {
		t.Fatalf("root image's %s:\n%s\nwant:\n%s", update.ClientsPath, clients, want)
	}
	if ring, err := bundle.ParseKeyRing(clients); err != nil || len(ring.IDs()) != 2 {
		t.Fatalf("clients file: %v, %v", ring.IDs(), err)
	}
	if st, err := os.Stat(filepath.Join(root, updateBin)); err != nil || st.Mode().Perm() != 0o755 || st.Size() < 1<<20 {
		t.Fatalf("%s: %v, %v", updateBin, st, err)
	}
	cfg, err := config.Load(filepath.Join(root, config.ImagePath))
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(cfg.Services, func(s config.Service) bool { return s.Name == "update" }); i < 0 {
		t.Errorf("no update service in %v", cfg.Services)
	}
	if !slices.Contains(cfg.Firewall.AllowInput, config.InputPort{Port: update.DefaultPort, Protocol: "tcp"}) {
		t.Errorf("port %d not open: %v", update.DefaultPort, cfg.Firewall.AllowInput)
	}
}
