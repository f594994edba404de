package clock

import (
	"context"
	"errors"
	"fmt"
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

// Query asks every server (one at a time, each bounded by timeout), drops
// answers that fail RFC 5905 sanity checks (kiss-of-death, unsynchronized,
// stratum 16, excessive dispersion) and returns the one with the smallest
// root distance. It fails, naming each server's problem, only when no
// server gave a usable answer.
func Query(ctx context.Context, servers []string, timeout time.Duration) (Result, error) {
	if len(servers) == 0 {
		return Result{}, errors.New("ntp: no servers configured")
	}
	var best *Result
	var errs []error
	for _, s := range servers {
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("ntp: %w", err)
		}
		r, err := queryOne(s, timeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
			continue
		}
		if best == nil || r.Distance < best.Distance {
			best = &r
		}
	}
	if best == nil {
		return Result{}, fmt.Errorf("ntp: no usable answer: %w", errors.Join(errs...))
	}
	return *best, nil
}

func queryOne(server string, timeout time.Duration) (Result, error) {
	resp, err := ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: timeout})
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
