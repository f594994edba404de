package netconf

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"k8s.io/klog/v2"
)

// EventKind says what happened to the lease or link.
type EventKind string

const (
	EventBound    EventKind = "bound"     // a new lease is applied
	EventRenewed  EventKind = "renewed"   // the lease was extended
	EventLost     EventKind = "lost"      // the lease expired; address removed
	EventLinkDown EventKind = "link down" // carrier lost; renewals paused
	EventLinkUp   EventKind = "link up"   // carrier back; lease re-requested
	EventFailed   EventKind = "failed"    // an attempt failed (Err set); retrying
)

// Event is one console line's worth of network news.
type Event struct {
	Kind  EventKind
	Iface string
	Lease Lease
	Err   error
}

func (e Event) String() string {
	switch e.Kind {
	case EventBound, EventRenewed:
		return fmt.Sprintf("net: %s (dhcp %s, lease %v)", e.Lease.Summary(e.Iface), e.Kind, e.Lease.Duration)
	case EventFailed:
		return fmt.Sprintf("net: %s dhcp: %v", e.Iface, e.Err)
	}
	return fmt.Sprintf("net: %s %s", e.Iface, e.Kind)
}

// DHCP keeps a DHCPv4 lease on one interface.
type DHCP struct {
	Interface string
	// ResolvConf is the file to write ("/etc/resolv.conf" on the device).
	ResolvConf string
	// DNS, when set, replaces the lease's servers in resolv.conf.
	DNS []netip.Addr
	// Hostname is sent to the server (option 12).
	Hostname string
	// OnEvent is told every change, synchronously: keep it short.
	OnEvent func(Event)
	// Timeout of one exchange; zero means 5 s.
	Timeout time.Duration
}

// Run brings the interface up and keeps a lease on it until ctx ends:
// acquire, apply (address, default route, resolv.conf), renew at T1,
// rebind from T2, give the address up at expiry; on link down it pauses
// and on link up it asks again. It returns only when ctx ends (nil) or the
// interface cannot be found or watched.
func (d *DHCP) Run(ctx context.Context) error {
	if _, err := linkUp(d.Interface); err != nil {
		return err
	}
	w, err := watchLink(ctx, d.Interface)
	if err != nil {
		return err
	}
	var current Lease
	announced := false // a link down was reported; report the link up too
	for {
		down, err := w.waitUp(ctx)
		if err != nil {
			return nil // ctx ended
		}
		if announced {
			d.emit(Event{Kind: EventLinkUp})
			announced = false
		}
		upCtx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-down:
				cancel()
			case <-upCtx.Done():
			}
		}()
		current = d.keepLease(upCtx, current)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		// Carrier settling at boot, before any lease, is not news.
		if current.Address.IsValid() {
			d.emit(Event{Kind: EventLinkDown})
			announced = true
		}
	}
}

// keepLease holds a lease while ctx lives (the link is up); it returns
// the lease last applied so the next round can replace it.
func (d *DHCP) keepLease(ctx context.Context, prev Lease) Lease {
	client, err := nclient4.New(d.Interface, nclient4.WithTimeout(d.timeout()), nclient4.WithRetry(2))
	if err != nil {
		d.emit(Event{Kind: EventFailed, Err: fmt.Errorf("open client: %w", err)})
		sleep(ctx, 5*time.Second)
		return prev
	}
	defer client.Close()
	for ctx.Err() == nil {
		raw, l, err := d.acquire(ctx, client)
		if err != nil {
			return prev
		}
		if err := d.applyLease(l, prev); err != nil {
			d.emit(Event{Kind: EventFailed, Err: err})
			sleep(ctx, 5*time.Second)
			continue
		}
		prev = l
		d.emit(Event{Kind: EventBound, Lease: l})
		l, expired := d.renewLoop(ctx, client, raw, l)
		prev = l
		if expired {
			if err := d.removeLease(l); err != nil {
				klog.Warning(err)
			}
			prev = Lease{}
			d.emit(Event{Kind: EventLost, Lease: l})
		}
	}
	return prev
}

// acquire runs DISCOVER/OFFER/REQUEST/ACK until it succeeds or ctx ends,
// waiting 1 s, 2 s … up to 30 s between attempts.
func (d *DHCP) acquire(ctx context.Context, c *nclient4.Client) (*nclient4.Lease, Lease, error) {
	wait := time.Second
	for {
		raw, err := c.Request(ctx, d.modifiers()...)
		if err == nil {
			l, lerr := LeaseFromACK(raw.ACK, time.Now())
			if lerr == nil {
				return raw, l, nil
			}
			err = lerr
		}
		if ctx.Err() != nil {
			return nil, Lease{}, ctx.Err()
		}
		d.emit(Event{Kind: EventFailed, Err: fmt.Errorf("no lease: %w (retry in %v)", err, wait)})
		if !sleep(ctx, wait) {
			return nil, Lease{}, ctx.Err()
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// renewLoop renews at T1 (and again, per RetryIn, until T2), rebinds from
// T2 with a full request, and reports expired when the lease ran out.
func (d *DHCP) renewLoop(ctx context.Context, c *nclient4.Client, raw *nclient4.Lease, l Lease) (Lease, bool) {
	for {
		plan := l.Plan()
		if plan.Expiry == 0 {
			<-ctx.Done()
			return l, false
		}
		if !sleepUntil(ctx, l.Obtained.Add(plan.T1)) {
			return l, false
		}
		for {
			now := time.Now()
			if !now.Before(l.Obtained.Add(plan.Expiry)) {
				return l, true
			}
			next, nl, err := d.extend(ctx, c, raw, l, now.Before(l.Obtained.Add(plan.T2)))
			if err == nil {
				if aerr := d.applyLease(nl, l); aerr != nil {
					d.emit(Event{Kind: EventFailed, Err: aerr})
				}
				raw, l = next, nl
				d.emit(Event{Kind: EventRenewed, Lease: l})
				break
			}
			if ctx.Err() != nil {
				return l, false
			}
			deadline := l.Obtained.Add(plan.T2)
			if !time.Now().Before(deadline) {
				deadline = l.Obtained.Add(plan.Expiry)
			}
			retry := RetryIn(time.Until(deadline))
			d.emit(Event{Kind: EventFailed, Err: fmt.Errorf("renew: %w (retry in %v)", err, retry.Round(time.Second))})
			if !sleep(ctx, retry) {
				return l, false
			}
		}
	}
}

// extend renews (before T2) or rebinds (after T2: a fresh request, as
// nclient4 has no REBINDING state; the server still gives the same
// address to the same client).
func (d *DHCP) extend(ctx context.Context, c *nclient4.Client, raw *nclient4.Lease, l Lease, renew bool) (*nclient4.Lease, Lease, error) {
	var next *nclient4.Lease
	var err error
	if renew {
		next, err = c.Renew(ctx, raw, d.modifiers()...)
	} else {
		next, err = c.Request(ctx, d.modifiers()...)
	}
	if err != nil {
		return nil, Lease{}, err
	}
	nl, err := LeaseFromACK(next.ACK, time.Now())
	if err != nil {
		return nil, Lease{}, err
	}
	return next, nl, nil
}

func (d *DHCP) applyLease(l, prev Lease) error {
	link, err := netlink.LinkByName(d.Interface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", d.Interface, err)
	}
	if err := apply(link, l, prev); err != nil {
		return err
	}
	dns := l.DNS
	if len(d.DNS) > 0 {
		dns = d.DNS
	}
	return WriteResolvConf(d.ResolvConf, dns, l.Search)
}

func (d *DHCP) removeLease(l Lease) error {
	link, err := netlink.LinkByName(d.Interface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", d.Interface, err)
	}
	return unapply(link, l)
}

func (d *DHCP) modifiers() []dhcpv4.Modifier {
	if d.Hostname == "" {
		return nil
	}
	return []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptHostName(d.Hostname))}
}

func (d *DHCP) timeout() time.Duration {
	if d.Timeout == 0 {
		return 5 * time.Second
	}
	return d.Timeout
}

func (d *DHCP) emit(e Event) {
	e.Iface = d.Interface
	klog.V(2).Info(e.String())
	if d.OnEvent != nil {
		d.OnEvent(e)
	}
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	return sleep(ctx, time.Until(at))
}
