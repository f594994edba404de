package prober

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// probeDialer returns a dialer whose sockets linger for one second on close.
// Probes open a connection every period for every container; with the default
// close each one would sit in TIME-WAIT for a minute, and on a busy node they
// exhaust ephemeral ports. A zero linger would reset the connection instead of
// closing it cleanly, which applications log as errors, so one second it is
// (the kubelet makes the same choice).
func probeDialer() *net.Dialer {
	return &net.Dialer{
		Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				// Best effort: a socket without the short linger still
				// probes correctly, so a refusal must not fail the probe.
				_ = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 1})
			})
		},
	}
}
