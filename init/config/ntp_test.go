package config

import (
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestNTPServers: a config that names no time servers gets the NTP pool,
// an empty list disables NTP, a list of its own is kept; and the choice
// survives the host tool writing the config back out.
func TestNTPServers(t *testing.T) {
	pool := []string{"0.pool.ntp.org", "1.pool.ntp.org", "2.pool.ntp.org", "3.pool.ntp.org"}
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"left out", "hostname: gw\n", pool},
		{"ntp section without servers", "ntp: {saveInterval: 10m}\n", pool},
		{"empty list disables", "ntp: {servers: []}\n", []string{}},
		{"own servers", "ntp: {servers: [10.0.2.2, \"ntp.example:123\"]}\n", []string{"10.0.2.2", "ntp.example:123"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.NTP.Servers, tt.want) || c.NTP.Servers == nil {
				t.Fatalf("servers %q, want %q", c.NTP.Servers, tt.want)
			}
			out, err := yaml.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(again.NTP.Servers, tt.want) {
				t.Fatalf("written back and read again: servers %q, want %q\n%s", again.NTP.Servers, tt.want, out)
			}
		})
	}
	if got := Default().NTP.Servers; !slices.Equal(got, pool) {
		t.Fatalf("Default() servers %q", got)
	}
}
