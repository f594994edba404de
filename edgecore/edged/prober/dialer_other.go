//go:build !linux

package prober

import "net"

// probeDialer returns a plain dialer: the short linger used on Linux only
// matters on nodes, which run Linux.
func probeDialer() *net.Dialer {
	return &net.Dialer{}
}
