package certificate_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/edgehub/certificate"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// writerEnv carries a writerJob to the test binary re-executed as the
// process that writes certificates.
const writerEnv = "EDGEGATE_CERTIFICATE_WRITER"

// writerJob is what the writer process does: "rotate" (load the stored set,
// then rotate it) or "bootstrap" (join with the token), stopping for good
// after step StopAt of the save (-1: never).
type writerJob struct {
	Action string
	StopAt int
	Config jobConfig
}

// jobConfig is the part of certificate.Config the writer needs.
type jobConfig struct {
	NodeName, HTTPServer, Token, CAFile, CertFile, KeyFile string
}

func toJob(c certificate.Config) jobConfig {
	return jobConfig{c.NodeName, c.HTTPServer, c.Token, c.CAFile, c.CertFile, c.KeyFile}
}

// TestCertificateWriterProcess is not a test of its own: it is the writer
// process of TestCertificatesSurviveAKillAtEveryStep.
func TestCertificateWriterProcess(t *testing.T) {
	raw := os.Getenv(writerEnv)
	if raw == "" {
		t.Skip("the certificate writer process of TestCertificatesSurviveAKillAtEveryStep")
	}
	var job writerJob
	if err := json.Unmarshal([]byte(raw), &job); err != nil {
		t.Fatal(err)
	}
	c := job.Config
	m := certificate.NewManager(certificate.Config{
		NodeName: c.NodeName, HTTPServer: c.HTTPServer, Token: c.Token,
		CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, Timeout: 10 * time.Second,
	})
	n := 0
	certificate.SetAfterStep(m, func(step string) {
		fmt.Printf("step %d %s\n", n, step)
		if n == job.StopAt {
			fmt.Println("stopped")
			time.Sleep(time.Hour) // until killed
		}
		n++
	})
	ctx := context.Background()
	var err error
	switch job.Action {
	case "bootstrap":
		_, err = m.Ensure(ctx)
	case "rotate":
		if _, err = m.Ensure(ctx); err == nil {
			err = m.Rotate(ctx)
		}
	default:
		err = fmt.Errorf("unknown action %q", job.Action)
	}
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("done")
}

// runWriter runs the writer process for job. With job.StopAt ≥ 0 it kills
// the process with SIGKILL once it stopped there. It returns the steps the
// process reported.
func runWriter(t *testing.T, job writerJob) []string {
	t.Helper()
	raw, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCertificateWriterProcess$")
	cmd.Env = append(os.Environ(), writerEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var steps []string
	var stopped, done bool
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if s, ok := strings.CutPrefix(line, "step "); ok {
			_, name, _ := strings.Cut(s, " ")
			steps = append(steps, name)
		}
		if line == "stopped" {
			stopped = true
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			break
		}
		done = done || line == "done"
	}
	waitErr := cmd.Wait()
	switch {
	case job.StopAt >= 0 && !stopped:
		t.Fatalf("writer did not reach step %d (steps %q): %v", job.StopAt, steps, waitErr)
	case job.StopAt < 0 && (!done || waitErr != nil):
		t.Fatalf("writer failed (steps %q): %v", steps, waitErr)
	}
	return steps
}

// TestCertificatesSurviveAKillAtEveryStep kills the process that stores a
// new certificate set (SIGKILL, as a crash or power cut would stop it)
// after each step of the save, for a rotation and for a first join. After
// every kill the next start has a matching key and certificate: the old
// ones until the new set was committed, the new ones from then on, and
// for a first join either nothing (the token still works) or the new set.
// Nothing of the interrupted save is left on disk.
func TestCertificatesSurviveAKillAtEveryStep(t *testing.T) {
	if os.Getenv(writerEnv) != "" {
		t.Skip("running as the writer process")
	}
	c := testcloud.ForTest(t, testcloud.Options{})
	tok, err := c.Token(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"rotate", "bootstrap"} {
		t.Run(action, func(t *testing.T) {
			prepare := func(t *testing.T) (certificate.Config, *certificate.Manager) {
				cfg := config(t, c, tok)
				if action == "bootstrap" {
					return cfg, nil
				}
				m := certificate.NewManager(cfg)
				if _, err := m.Ensure(context.Background()); err != nil {
					t.Fatal(err)
				}
				cfg.Token = "" // a rotation needs none
				return cfg, m
			}
			cfg, _ := prepare(t)
			steps := runWriter(t, writerJob{Action: action, StopAt: -1, Config: toJob(cfg)})
			commit := indexOf(steps, "next set: committed")
			if commit < 0 || len(steps) < 5 {
				t.Fatalf("steps %q: want the set written, committed, installed", steps)
			}
			for k := range steps {
				t.Run(fmt.Sprintf("killed after %d %s", k, steps[k]), func(t *testing.T) {
					cfg, before := prepare(t)
					runWriter(t, writerJob{Action: action, StopAt: k, Config: toJob(cfg)})
					checkAfterKill(t, cfg, before, k >= commit)
				})
			}
		})
	}
}

// checkAfterKill starts a manager without token on what the kill left.
func checkAfterKill(t *testing.T, cfg certificate.Config, before *certificate.Manager, committed bool) {
	t.Helper()
	cfg.Token = ""
	m := certificate.NewManager(cfg)
	_, err := m.Ensure(context.Background())
	switch {
	case before == nil && !committed:
		if !errors.Is(err, certificate.ErrNeedToken) || !strings.Contains(err.Error(), "no client certificate stored yet") {
			t.Fatalf("first join interrupted before its commit: %v, want no certificate at all", err)
		}
		checkNoLeftovers(t, cfg)
		return
	case err != nil:
		t.Fatalf("no usable key and certificate after the kill: %v", err)
	}
	switch {
	case before != nil && !committed && m.Leaf().SerialNumber.Cmp(before.Leaf().SerialNumber) != 0:
		t.Fatalf("a new certificate is in force although its set was never committed")
	case before != nil && committed && m.Leaf().SerialNumber.Cmp(before.Leaf().SerialNumber) == 0:
		t.Fatalf("the old certificate is in force although the new set was committed")
	}
	onDisk, err := certificate.LoadKeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		t.Fatalf("files at the configured paths: %v", err)
	}
	if onDisk.Leaf.SerialNumber.Cmp(m.Leaf().SerialNumber) != 0 {
		t.Fatal("the configured files are not the set in force")
	}
	checkNoLeftovers(t, cfg)
}

func checkNoLeftovers(t *testing.T, cfg certificate.Config) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(cfg.CertFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
