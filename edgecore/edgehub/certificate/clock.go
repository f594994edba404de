package certificate

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/klog/v2"
)

// A gateway has no battery-backed clock: it boots at the time it saved
// last (possibly weeks ago) until NTP answers, and NTP may be blocked
// where the cloud is not. cloudcore issues certificates valid from the
// moment it signs them, so a gateway whose clock is behind the cloud's
// would find every new certificate "not yet valid" and never join. The
// manager therefore reads the cloud's time (the Date header of an
// authenticated reply from the cloud's certificate port) and, when the
// cloud is ahead by more than clockTolerance, moves the clock forward to
// it (Config.SetClock) or, where edgecore may not set the clock, checks
// certificates against the cloud's time instead. The clock is never moved
// back from the cloud's time: that is NTP's job.

// clockTolerance is how far the cloud's clock may be ahead of ours before
// it is acted on; Date has a resolution of one second, and a certificate
// issued a moment ago is fine within it.
const clockTolerance = 10 * time.Second

// clockBehindError means a certificate is valid only from a moment that
// is still to come by our clock: the clock is behind, or the certificate
// was issued for the future.
type clockBehindError struct {
	node      string
	notBefore time.Time
	now       time.Time
}

func (e *clockBehindError) Error() string {
	return fmt.Sprintf("client certificate for %s is not valid until %s but the clock says %s",
		e.node, e.notBefore.UTC().Format(time.RFC3339), e.now.UTC().Format(time.RFC3339))
}

// now is the system clock, corrected by what was learnt from the cloud
// when the system clock could not be set.
func (m *Manager) now() time.Time {
	m.mu.RLock()
	offset := m.offset
	m.mu.RUnlock()
	if m.cfg.Now != nil {
		return m.cfg.Now().Add(offset)
	}
	return time.Now().Add(offset)
}

// observeCloudTime corrects the clock forward to the cloud's time when it
// is ahead by more than clockTolerance. source names where the time came
// from, for the log.
func (m *Manager) observeCloudTime(cloud time.Time, source string) {
	if cloud.IsZero() {
		return
	}
	local := m.now()
	skew := cloud.Sub(local)
	if skew <= clockTolerance {
		return
	}
	what := fmt.Sprintf("clock: the clock (%s) is %s behind the cloud's (%s, %s): NTP has not set it",
		local.UTC().Format(time.RFC3339), skew.Round(time.Second), cloud.UTC().Format(time.RFC3339), source)
	if m.cfg.SetClock != nil {
		err := m.cfg.SetClock(cloud)
		if err == nil {
			klog.Warningf("%s; set it to the cloud's time", what)
			return
		}
		klog.Warningf("%s; setting it failed (%v): certificates are checked against the cloud's time instead", what, err)
	} else {
		klog.Warningf("%s; certificates are checked against the cloud's time", what)
	}
	m.mu.Lock()
	m.offset += skew
	m.mu.Unlock()
}

// readCloudTime asks the cloud's certificate port for its CA (the cheapest
// authenticated request there is, verified against ca) and corrects the
// clock from the reply's time.
func (m *Manager) readCloudTime(ctx context.Context, ca *x509.CertPool) error {
	client, err := m.cloudClient(ca, false)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	r, err := get(ctx, client, strings.TrimRight(m.cfg.HTTPServer, "/")+"/ca.crt", nil, nil)
	if err != nil {
		return err
	}
	if r.date.IsZero() {
		return errors.New("the cloud's reply carries no Date")
	}
	m.observeCloudTime(r.date, m.cfg.HTTPServer)
	return nil
}

// verifyServer verifies the cloud's certificate chain against roots and
// its name against host, as crypto/tls would, except that a certificate
// not yet valid by our clock is verified as at the moment it became
// valid: our clock is what is wrong then (the cloud just issued it), and
// the cloud's time read over this very connection corrects it. Expiry is
// checked as usual.
func verifyServer(roots *x509.CertPool, host string, now func() time.Time) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("the cloud presented no certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, der := range raw {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return fmt.Errorf("the cloud's certificate: %w", err)
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		at := now()
		if leaf := certs[0]; at.Before(leaf.NotBefore) {
			at = leaf.NotBefore
		}
		_, err := certs[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, DNSName: host, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			return fmt.Errorf("the cloud's certificate: %w", err)
		}
		return nil
	}
}
