package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const goodYAML = `
hostname: gw-01
network:
  interface: eth0
  mode: static
  address: 192.168.7.20/24
  gateway: 192.168.7.1
  dns: [192.168.7.1, 9.9.9.9]
ntp:
  servers: [10.0.2.2, "ntp.example:123"]
  saveInterval: 10m
services:
  - name: containerd
    path: /usr/bin/containerd
    args: [--config, /etc/containerd/config.toml]
    env: [PATH=/usr/bin]
    health: {kind: unix, address: /run/containerd/containerd.sock}
  - name: edgecore
    path: /usr/bin/edgecore
    dependsOn: [containerd]
    restart: on-failure
    gracePeriod: 20s
    health: {kind: http, url: "http://127.0.0.1:10350/healthz", interval: 5s}
    log: {maxBytes: 65536, keep: 3}
watchdog:
  device: /dev/watchdog
  timeout: 20s
`

func TestParseGoodFileAppliesDefaults(t *testing.T) {
	c, err := Parse([]byte(goodYAML))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Hostname != "gw-01" || c.Network.Mode != ModeStatic || c.Network.Address != "192.168.7.20/24" {
		t.Fatalf("decoded wrong: %+v", c)
	}
	if got := c.NTP.SaveInterval.D(); got != 10*time.Minute {
		t.Fatalf("saveInterval = %v", got)
	}
	cd, ec := c.Services[0], c.Services[1]
	if cd.Restart != RestartAlways || cd.GracePeriod.D() != DefaultGracePeriod {
		t.Fatalf("service defaults not applied: %+v", cd)
	}
	if cd.Health.Interval.D() != DefaultHealthInterval || cd.Health.FailureThreshold != DefaultFailureThreshold {
		t.Fatalf("health defaults not applied: %+v", cd.Health)
	}
	if cd.Log != (Log{MaxBytes: DefaultLogMaxBytes, Keep: DefaultLogKeep, RingBytes: DefaultLogRingBytes}) {
		t.Fatalf("log defaults: %+v", cd.Log)
	}
	if ec.Restart != RestartOnFailure || ec.GracePeriod.D() != 20*time.Second || ec.Log.MaxBytes != 65536 || ec.Log.Keep != 3 {
		t.Fatalf("explicit values lost: %+v", ec)
	}
	if ec.Health.Interval.D() != 5*time.Second {
		t.Fatalf("health interval = %v", ec.Health.Interval)
	}
	if c.Watchdog.Timeout.D() != 20*time.Second {
		t.Fatalf("watchdog timeout = %v", c.Watchdog.Timeout)
	}
}

func TestParseJSONIsAccepted(t *testing.T) {
	c, err := Parse([]byte(`{"hostname":"gw","network":{"mode":"dhcp"},"ntp":{},"watchdog":{"device":"none"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Network.Interface != DefaultInterface || c.Watchdog.Device != WatchdogDisabled {
		t.Fatalf("%+v", c)
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

// base is a minimal valid file that the table below breaks one field at a time.
const base = `
hostname: gw
network: {mode: dhcp}
services:
  - {name: a, path: /bin/a}
  - {name: b, path: /bin/b, dependsOn: [a]}
`

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings every one of which the error must contain
	}{
		{"empty", "", []string{"empty file"}},
		{"unknown top field", base + "colour: red\n", []string{"unknown field", "colour"}},
		{"unknown nested field", "network: {mode: dhcp, iface: eth0}\n", []string{"unknown field", "iface"}},
		{"duplicate key", "hostname: a\nhostname: b\n", []string{"hostname"}},
		{"bare number duration", "ntp: {saveInterval: 30}\n", []string{"duration must be a string"}},
		{"bad duration", "ntp: {saveInterval: soon}\n", []string{`bad duration "soon"`}},
		{"hostname", "hostname: bad_name\n", []string{`hostname: "bad_name" is not a valid hostname`}},
		{"mode", "network: {mode: ppp}\n", []string{`network.mode: "ppp" is not one of dhcp, static`}},
		{"interface", "network: {interface: eth0/1}\n", []string{`network.interface: "eth0/1"`}},
		{"static without address", "network: {mode: static}\n", []string{`network.address: "" is not an IPv4 address with prefix`}},
		{"static not cidr", "network: {mode: static, address: 10.1.1.1}\n", []string{`network.address: "10.1.1.1"`}},
		{"gateway outside", "network: {mode: static, address: 10.1.1.5/24, gateway: 10.2.0.1}\n", []string{`network.gateway: "10.2.0.1" is not inside 10.1.1.0/24`}},
		{"gateway self", "network: {mode: static, address: 10.1.1.5/24, gateway: 10.1.1.5}\n", []string{`network.gateway: "10.1.1.5" is the device's own address`}},
		{"address with dhcp", "network: {mode: dhcp, address: 10.1.1.5/24}\n", []string{`network.address: "10.1.1.5/24" is set but mode is dhcp`}},
		{"dns", "network: {dns: [1.1.1.1, nameserver]}\n", []string{`network.dns[1]: "nameserver" is not an IP address`}},
		{"ntp server", "ntp: {servers: [\"pool:99999\"]}\n", []string{`ntp.servers[0]: "pool:99999"`, "bad port"}},
		{"ntp server name", "ntp: {servers: [\"a b\"]}\n", []string{`ntp.servers[0]: "a b"`}},
		{"save interval", "ntp: {saveInterval: 5s}\n", []string{"ntp.saveInterval: 5s is outside 1m..24h"}},
		{"unknown dependency", strings.Replace(base, "dependsOn: [a]", "dependsOn: [foo]", 1), []string{`services[1].dependsOn[0]: unknown service "foo"`}},
		{"self dependency", strings.Replace(base, "dependsOn: [a]", "dependsOn: [b]", 1), []string{`services[1].dependsOn[0]: "b" depends on itself`}},
		{"duplicate dependency", strings.Replace(base, "dependsOn: [a]", "dependsOn: [a, a]", 1), []string{`services[1].dependsOn[1]: "a" is listed twice`}},
		{"cycle", "services:\n  - {name: a, path: /a, dependsOn: [c]}\n  - {name: b, path: /b, dependsOn: [a]}\n  - {name: c, path: /c, dependsOn: [b]}\n",
			[]string{"services: dependency cycle a -> c -> b -> a"}},
		{"duplicate name", "services:\n  - {name: a, path: /a}\n  - {name: a, path: /b}\n", []string{`services[1].name: "a" is already used by services[0]`}},
		{"bad name", "services:\n  - {name: ../etc, path: /a}\n", []string{`services[0].name: "../etc" is not a valid service name`}},
		{"relative path", "services:\n  - {name: a, path: bin/a}\n", []string{`services[0].path: "bin/a" is not an absolute path`}},
		{"env", "services:\n  - {name: a, path: /a, env: [NOVALUE]}\n", []string{`services[0].env[0]: "NOVALUE" is not KEY=value`}},
		{"env twice", "services:\n  - {name: a, path: /a, env: [A=1, A=2]}\n", []string{`services[0].env[1]: "A=2" sets A twice`}},
		{"restart", "services:\n  - {name: a, path: /a, restart: sometimes}\n", []string{`services[0].restart: "sometimes"`}},
		{"grace", "services:\n  - {name: a, path: /a, gracePeriod: 1h}\n", []string{"services[0].gracePeriod: 1h0m0s is outside"}},
		{"health kind", "services:\n  - {name: a, path: /a, health: {kind: ping}}\n", []string{`services[0].health.kind: "ping" is not one of none, unix, tcp, exec, http`}},
		{"unix address", "services:\n  - {name: a, path: /a, health: {kind: unix, address: run/a.sock}}\n", []string{`services[0].health.address: "run/a.sock" is not an absolute socket path`}},
		{"tcp address", "services:\n  - {name: a, path: /a, health: {kind: tcp, address: localhost}}\n", []string{`services[0].health.address: "localhost" is not host:port`}},
		{"exec command", "services:\n  - {name: a, path: /a, health: {kind: exec}}\n", []string{"services[0].health.command: [] must start with an absolute path"}},
		{"http url", "services:\n  - {name: a, path: /a, health: {kind: http, url: \"https://x/\"}}\n", []string{`services[0].health.url: "https://x/" is not an http:// URL`}},
		{"unused field", "services:\n  - {name: a, path: /a, health: {kind: none, url: \"http://x/\"}}\n", []string{`services[0].health.url: is set but not used by kind "none"`}},
		{"negative interval", "services:\n  - {name: a, path: /a, health: {interval: -1s}}\n", []string{"services[0].health.interval: -1s must be positive"}},
		{"negative start interval", "services:\n  - {name: a, path: /a, health: {startInterval: -1s}}\n", []string{"services[0].health.startInterval: -1s must be positive"}},
		{"start interval over interval", "services:\n  - {name: a, path: /a, health: {interval: 1s, startInterval: 2s}}\n", []string{"services[0].health.startInterval: 2s is longer than interval 1s"}},
		{"negative start timeout", "services:\n  - {name: a, path: /a, health: {startTimeout: -1s}}\n", []string{"services[0].health.startTimeout: -1s must be positive"}},
		{"http socket", "services:\n  - {name: a, path: /a, health: {kind: http, url: \"http://a/healthz\", address: run/a.sock}}\n", []string{`services[0].health.address: "run/a.sock" is not an absolute socket path (kind http`}},
		{"log size", "services:\n  - {name: a, path: /a, log: {maxBytes: 100}}\n", []string{"services[0].log.maxBytes: 100 is outside"}},
		{"log keep", "services:\n  - {name: a, path: /a, log: {keep: 50}}\n", []string{"services[0].log.keep: 50 is outside 1..20"}},
		{"watchdog device", "watchdog: {device: watchdog0}\n", []string{`watchdog.device: "watchdog0"`}},
		{"watchdog timeout", "watchdog: {timeout: 1500ms}\n", []string{"watchdog.timeout: 1.5s must be whole seconds"}},
		{"several at once", "hostname: -x\nnetwork: {mode: ppp}\n", []string{"hostname:", "network.mode:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse accepted the file")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateErrorsAreFieldErrors(t *testing.T) {
	c := Default()
	c.Hostname = "-"
	var fe *FieldError
	if err := c.Validate(); !errors.As(err, &fe) || fe.Path != "hostname" {
		t.Fatalf("want a *FieldError for hostname, got %v", err)
	}
}

func TestStartOrder(t *testing.T) {
	svc := func(name string, deps ...string) Service { return Service{Name: name, DependsOn: deps} }
	tests := []struct {
		name string
		svcs []Service
		want []string
	}{
		{"none", nil, []string{}},
		{"config order kept", []Service{svc("x"), svc("y"), svc("z")}, []string{"x", "y", "z"}},
		{"dependency first", []Service{svc("edgecore", "containerd"), svc("containerd")}, []string{"containerd", "edgecore"}},
		{"diamond", []Service{svc("d", "b", "c"), svc("b", "a"), svc("c", "a"), svc("a")}, []string{"a", "b", "c", "d"}},
		{"unknown ignored", []Service{svc("a", "ghost")}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order, err := StartOrder(tt.svcs)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, i := range order {
				got = append(got, tt.svcs[i].Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	valid := "hostname: new-one\n"
	valid2 := "hostname: old-one\n"
	broken := "hostname: new-one\nservices:\n  - {name: a, path: /a, dependsOn: [foo]}\n"
	tests := []struct {
		name         string
		newFile      *string // nil: file absent
		lastFile     *string
		wantSource   Source
		wantHostname string
		wantSave     bool
		wantReason   []string
	}{
		{"new valid, nothing saved", &valid, nil, SourceNew, "new-one", true, []string{"using"}},
		{"new valid, same saved", &valid, &valid, SourceNew, "new-one", false, nil},
		{"new valid, other saved", &valid, &valid2, SourceNew, "new-one", true, nil},
		{"new broken, last good used", &broken, &valid2, SourceLastGood, "old-one", false,
			[]string{`services[0].dependsOn[0]: unknown service "foo"`, "keeping last good"}},
		{"new missing, last good used", nil, &valid2, SourceLastGood, "old-one", false, []string{"no such file"}},
		{"both broken", &broken, &broken, SourceDefault, DefaultHostname, false, []string{"built-in defaults", "unknown service"}},
		{"nothing at all", nil, nil, SourceDefault, DefaultHostname, false, []string{"none saved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			newPath, lastPath := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "var", "last-good.yaml")
			writeIf(t, newPath, tt.newFile)
			writeIf(t, lastPath, tt.lastFile)
			d := Choose(newPath, lastPath)
			if d.Source != tt.wantSource || d.Config == nil || d.Config.Hostname != tt.wantHostname || d.SaveNeeded != tt.wantSave {
				t.Fatalf("got source %s hostname %v save %v (%s)", d.Source, d.Config, d.SaveNeeded, d.Reason)
			}
			if (d.Source == SourceNew) != (d.NewErr == nil) {
				t.Fatalf("NewErr = %v with source %s", d.NewErr, d.Source)
			}
			if strings.Contains(d.Reason, "\n") {
				t.Fatalf("reason spans lines: %q", d.Reason)
			}
			for _, w := range tt.wantReason {
				if !strings.Contains(d.Reason, w) {
					t.Errorf("reason %q lacks %q", d.Reason, w)
				}
			}
			if d.SaveNeeded {
				if err := SaveLastGood(lastPath, d.Raw); err != nil {
					t.Fatal(err)
				}
				if again := Choose(newPath, lastPath); again.SaveNeeded {
					t.Fatal("saving did not settle the decision")
				}
			}
		})
	}
}

func TestSaveLastGoodRefusesInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "last-good.yaml")
	if err := SaveLastGood(path, []byte("hostname: ok\n")); err != nil {
		t.Fatal(err)
	}
	if err := SaveLastGood(path, []byte("hostname: -bad-\n")); err == nil {
		t.Fatal("saved an invalid config")
	}
	got, _ := os.ReadFile(path)
	if string(got) != "hostname: ok\n" {
		t.Fatalf("last good copy changed to %q", got)
	}
}

func TestLoadNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("hostname: [x]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v does not name %s", err, path)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatal("loaded a missing file")
	}
}

func writeIf(t *testing.T, path string, content *string) {
	t.Helper()
	if content == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(*content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStartIntervalDefault: checks before the first success default to
// every 500 ms, never less often than the steady interval, and an
// explicit value is kept.
func TestStartIntervalDefault(t *testing.T) {
	tests := []struct {
		name   string
		health string
		want   time.Duration
	}{
		{"default interval", "{kind: tcp, address: \"127.0.0.1:1\"}", DefaultStartInterval},
		{"long interval", "{kind: tcp, address: \"127.0.0.1:1\", interval: 5s}", DefaultStartInterval},
		{"interval shorter than the default", "{kind: tcp, address: \"127.0.0.1:1\", interval: 200ms}", 200 * time.Millisecond},
		{"explicit", "{kind: tcp, address: \"127.0.0.1:1\", interval: 5s, startInterval: 1s}", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte("services:\n  - {name: a, path: /a, health: " + tt.health + "}\n"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.Services[0].Health.StartInterval.D(); got != tt.want {
				t.Fatalf("startInterval = %v, want %v", got, tt.want)
			}
		})
	}
}
