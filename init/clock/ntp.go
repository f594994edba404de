package clock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/beevik/ntp"
)

// Result is the NTP answer a time was set from.
type Result struct {
	Server   string
	Offset   time.Duration // what the local clock was off by
	RTT      time.Duration
	Stratum  uint8
	Distance time.Duration // root distance: the error bound of the answer
}

func (r Result) String() string {
	return fmt.Sprintf("%s stratum %d offset %v rtt %v", r.Server, r.Stratum, r.Offset.Round(time.Millisecond), r.RTT.Round(time.Microsecond))
}

// Query asks every server at once (each bounded by timeout, its name
// lookup included), drops answers that fail RFC 5905 sanity checks
// (kiss-of-death, unsynchronized, stratum 16, excessive dispersion) and
// returns the one with the smallest root distance. It fails, naming each
// server's problem, only when no server gave a usable answer. Asking all
// at once bounds the wait by one timeout however many servers are
// unreachable, which the boot waits for.
func Query(ctx context.Context, servers []string, timeout time.Duration) (Result, error) {
	if len(servers) == 0 {
		return Result{}, errors.New("ntp: no servers configured")
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("ntp: %w", err)
	}
	results := make([]Result, len(servers))
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = queryOne(ctx, s, timeout)
		}()
	}
	wg.Wait()
	var best *Result
	var failed serverErrors
	for i, s := range servers {
		if errs[i] != nil {
			failed = append(failed, fmt.Errorf("%s: %w", s, errs[i]))
			continue
		}
		if best == nil || results[i].Distance < best.Distance {
			best = &results[i]
		}
	}
	if best == nil {
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("ntp: %w", err)
		}
		return Result{}, fmt.Errorf("ntp: no usable answer: %w", failed)
	}
	return *best, nil
}

// serverErrors are the failures of the servers asked, on one line: the
// message goes to the console, where errors.Join's newlines would break it.
type serverErrors []error

func (e serverErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e serverErrors) Unwrap() []error { return e }

func queryOne(ctx context.Context, server string, timeout time.Duration) (Result, error) {
	resp, err := ntp.QueryWithOptions(server, ntp.QueryOptions{
		Timeout: timeout,
		// The library's own dialer looks the name up without a bound; an
		// unreachable DNS server must not hold the boot longer than timeout.
		Dialer: func(_, remote string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			return d.DialContext(ctx, "udp", remote)
		},
	})
	if err != nil {
		return Result{}, err
	}
	if err := resp.Validate(); err != nil {
		if resp.IsKissOfDeath() {
			return Result{}, fmt.Errorf("kiss of death %q: %w", resp.KissCode, err)
		}
		return Result{}, err
	}
	return Result{Server: server, Offset: resp.ClockOffset, RTT: resp.RTT, Stratum: resp.Stratum, Distance: resp.RootDistance}, nil
}
