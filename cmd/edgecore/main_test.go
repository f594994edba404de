package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/dbm"
)

const childEnv = "EDGEGATE_EDGECORE_ARGS"

// TestMain turns the test binary into edgecore when childEnv is set, so a
// test can run the real command as a process and signal it.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestPrintAndExitFlags(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		contains string
		loads    bool
	}{
		{args: []string{"--version"}, code: 0, contains: "edgecore dev"},
		{args: []string{"--defaultconfig"}, code: 0, contains: "kind: EdgeCore", loads: true},
		{args: []string{"--minconfig"}, code: 0, contains: "apiVersion: edgecore.config.kubeedge.io/v1alpha2", loads: true},
		{args: []string{"--no-such-flag"}, code: 2},
		{args: []string{"stray"}, code: 2},
		{args: []string{"--v=3", "--version"}, code: 0, contains: "edgecore dev"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.contains) {
				t.Fatalf("stdout lacks %q:\n%s", tt.contains, out.String())
			}
			if tt.loads {
				if _, err := config.Parse(out.Bytes()); err != nil {
					t.Fatalf("printed config does not load: %v", err)
				}
			}
		})
	}
}

// writeConfig writes a config whose store is in dir; edit changes it first.
func writeConfig(t *testing.T, dir string, edit func(*config.EdgeCoreConfig)) string {
	cfg := config.NewDefault()
	cfg.Database.DataSource = filepath.Join(dir, "edgecore.db")
	cfg.Modules.EdgeHub.Enable = false
	if edit != nil {
		edit(cfg)
	}
	b, err := config.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "edgecore.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// child runs edgecore with args in a process and returns it with a reader
// of its log.
func child(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer, <-chan int) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, " "))
	pr, pw := io.Pipe()
	var all bytes.Buffer
	cmd.Stderr = io.MultiWriter(pw, &all)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exit := make(chan int, 1)
	go func() {
		_ = cmd.Wait()
		pw.Close()
		exit <- cmd.ProcessState.ExitCode()
	}()
	return cmd, bufio.NewScanner(pr), &all, exit
}

func waitLine(t *testing.T, sc *bufio.Scanner, want string) []string {
	t.Helper()
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), want) {
			return seen
		}
	}
	t.Fatalf("log never showed %q; got:\n%s", want, strings.Join(seen, "\n"))
	return nil
}

func TestRunsAndStopsOnSignal(t *testing.T) {
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		edit func(*config.EdgeCoreConfig)
	}{
		{name: "metamanager only, SIGTERM", sig: syscall.SIGTERM, edit: func(c *config.EdgeCoreConfig) {
			c.Modules.Edged.Enable = false
		}},
		{name: "edgehub offline too, SIGINT", sig: syscall.SIGINT, edit: func(c *config.EdgeCoreConfig) {
			c.Modules.Edged.Enable = false
			c.Modules.EdgeHub.Enable = true
			c.Modules.EdgeHub.WebSocket.Server = "127.0.0.1:1"
			c.Modules.EdgeHub.HTTPServer = "https://127.0.0.1:1"
			c.Modules.EdgeHub.Token = "x.y"
			dir := filepath.Dir(c.Database.DataSource)
			c.Modules.EdgeHub.TLSCAFile = filepath.Join(dir, "ca.crt")
			c.Modules.EdgeHub.TLSCertFile = filepath.Join(dir, "server.crt")
			c.Modules.EdgeHub.TLSPrivateKeyFile = filepath.Join(dir, "server.key")
		}},
		{name: "edged without a container runtime, SIGHUP", sig: syscall.SIGHUP, edit: func(c *config.EdgeCoreConfig) {
			c.Modules.Edged.Enable = true
			c.Modules.Edged.TailoredKubeletConfig["containerRuntimeEndpoint"] = "unix://" + filepath.Join(filepath.Dir(c.Database.DataSource), "no-containerd.sock")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeConfig(t, dir, tt.edit)
			cmd, sc, all, exit := child(t, "--config", path)
			seen := waitLine(t, sc, "module metamanager started")
			if !strings.Contains(seen[0], "edgecore version") {
				t.Errorf("first log line is not the version: %q", seen[0])
			}
			log := strings.Join(seen, "\n")
			for _, mod := range []string{"twin", "eventbus", "edgemesh", "servicebus"} {
				if !strings.Contains(log, "module "+mod+": not implemented in this release, disabled") {
					t.Errorf("no disabled notice for %s in:\n%s", mod, log)
				}
			}
			if strings.Contains(tt.name, "edged") {
				waitLine(t, sc, "edged: not ready: container runtime is down")
			} else if !strings.Contains(log, "module edged: disabled (modules.edged.enable: false): pods bound to this node are not run") {
				t.Errorf("no disabled notice for edged in:\n%s", log)
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			waitLine(t, sc, "edgecore stopped")
			if code := <-exit; code != 0 {
				t.Fatalf("exit %d:\n%s", code, all.String())
			}
			// The store was created and is not left locked.
			db, err := dbm.Open(filepath.Join(dir, "edgecore.db"), dbm.Options{LockTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Close()
		})
	}
}

func TestFailsClearly(t *testing.T) {
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badCfg, []byte("kind: EdgeCore\napiVersion: edgecore.config.kubeedge.io/v1alpha2\nmodules:\n  edgeHub:\n    heartbeat: 0\n    enable: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lockedDir := t.TempDir()
	lockedCfg := writeConfig(t, lockedDir, nil)
	held, err := dbm.Open(filepath.Join(lockedDir, "edgecore.db"), dbm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"bad field", []string{"--config", badCfg}, `modules.edgeHub.heartbeat: invalid value "0"`},
		{"locked store", []string{"--config", lockedCfg}, "database is locked by another process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(tt.args, " "))
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("run: %v, want exit 1", err)
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("stderr lacks %q:\n%s", tt.want, errb.String())
			}
		})
	}
}
