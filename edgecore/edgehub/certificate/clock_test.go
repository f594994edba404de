package certificate_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/edgehub/certificate"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// gatewayClock is the gateway's system clock as the manager sees it: the
// host's, plus what SetClock moved it by.
type gatewayClock struct {
	mu     sync.Mutex
	offset time.Duration
	sets   []time.Time
}

func (c *gatewayClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *gatewayClock) set(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
	c.sets = append(c.sets, t)
	return nil
}

func (c *gatewayClock) setTimes() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.sets...)
}

// dialCloud opens the cloud's websocket port with the manager's TLS, as
// the link does.
func dialCloud(c *testcloud.Cloud, m *certificate.Manager) error {
	conn, err := tls.Dial("tcp", c.WSServer(), m.ClientTLS())
	if err != nil {
		return err
	}
	return conn.Close()
}

// TestJoinWithTheClockADayBehind: the cloud's clock is a day ahead of the
// gateway's (a gateway that restored a day-old saved time and cannot reach
// NTP). The certificates the cloud issues are valid from its now, so by
// the gateway's clock they are not valid for another day; the gateway
// still joins: it sets its clock from the cloud's time, stores the
// certificate, and its TLS to the cloud's link port works.
func TestJoinWithTheClockADayBehind(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{ClockAhead: 24 * time.Hour})
	tok, _ := c.Token(time.Hour)
	clock := &gatewayClock{}
	cfg := config(t, c, tok)
	cfg.Now, cfg.SetClock = clock.now, clock.set
	log := captureLog(t)
	m := certificate.NewManager(cfg)
	if used, err := m.Ensure(context.Background()); err != nil || !used {
		t.Fatalf("Ensure: used=%v err=%v", used, err)
	}
	sets := clock.setTimes()
	if len(sets) != 1 || !near(sets[0], time.Now().Add(24*time.Hour), time.Minute) {
		t.Fatalf("clock set to %v, want once to about a day ahead of the host", sets)
	}
	if l := lineWith(log.String(), "behind the cloud's"); !strings.HasPrefix(l, "W") || !strings.Contains(l, "set it to the cloud's time") {
		t.Errorf("no warning that the clock was behind and set:\n%s", log)
	}
	if err := dialCloud(c, m); err != nil {
		t.Fatalf("TLS to the cloud's link port: %v", err)
	}
	// The next start (the clock stays right) loads it without the token.
	cfg.Token = ""
	if used, err := certificate.NewManager(cfg).Ensure(context.Background()); err != nil || used {
		t.Fatalf("restart: used=%v err=%v", used, err)
	}
}

// TestClockBehindWithoutSettingIt: where edgecore may not set the clock
// (SetClock nil), it checks certificates against the cloud's time: it
// joins, and its TLS works, without touching the clock.
func TestClockBehindWithoutSettingIt(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{ClockAhead: 24 * time.Hour})
	tok, _ := c.Token(time.Hour)
	clock := &gatewayClock{}
	cfg := config(t, c, tok)
	cfg.Now = clock.now
	m := certificate.NewManager(cfg)
	if _, err := m.Ensure(context.Background()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if err := dialCloud(c, m); err != nil {
		t.Fatalf("TLS to the cloud's link port: %v", err)
	}
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if sets := clock.setTimes(); len(sets) != 0 {
		t.Fatalf("clock set to %v", sets)
	}
}

// TestStoredCertificateWithTheClockBehind: after a reboot that restored an
// old saved time, the stored certificate is not valid yet by the clock.
// That is a clock problem, not a lost certificate: the clock is set from
// the cloud's time and the stored certificate used; the token, although
// there, is not. With the cloud out of reach Ensure fails naming the
// clock and still leaves the token alone.
func TestStoredCertificateWithTheClockBehind(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{})
	tok, _ := c.Token(time.Hour)
	cfg := config(t, c, tok)
	if _, err := certificate.NewManager(cfg).Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The gateway reboots with its clock two days behind.
	clock := &gatewayClock{offset: -48 * time.Hour}
	cfg.Now, cfg.SetClock = clock.now, clock.set

	c.Down()
	_, err := certificate.NewManager(cfg).Ensure(context.Background())
	if err == nil || errors.Is(err, certificate.ErrNeedToken) || !strings.Contains(err.Error(), "the clock is behind") {
		t.Fatalf("cloud down: %v, want an error naming the clock", err)
	}
	if err := c.Up(); err != nil {
		t.Fatal(err)
	}
	used, err := certificate.NewManager(cfg).Ensure(context.Background())
	if err != nil || used {
		t.Fatalf("cloud up: used=%v err=%v, want the stored certificate", used, err)
	}
	if sets := clock.setTimes(); len(sets) != 1 || !near(sets[0], time.Now(), time.Minute) {
		t.Fatalf("clock set to %v, want once to about now", sets)
	}
	c.Inspect(func(v *testcloud.View) {
		if v.CertsIssued() != 1 {
			t.Errorf("%d certificates issued, want only the first: the token must not be used", v.CertsIssued())
		}
	})
}

// TestClockNeverMovedBack: a cloud whose clock is behind the gateway's does
// not move the gateway's clock: only NTP does that.
func TestClockNeverMovedBack(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{ClockAhead: -time.Hour})
	tok, _ := c.Token(2 * time.Hour)
	clock := &gatewayClock{}
	cfg := config(t, c, tok)
	cfg.Now, cfg.SetClock = clock.now, clock.set
	if _, err := certificate.NewManager(cfg).Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sets := clock.setTimes(); len(sets) != 0 {
		t.Fatalf("clock set to %v", sets)
	}
}

func near(a, b time.Time, tol time.Duration) bool {
	d := a.Sub(b)
	return d < tol && d > -tol
}
