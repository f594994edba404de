package prober

import (
	"context"
	"net"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestProbeDialerLingersOneSecond(t *testing.T) {
	port := listen(t)
	conn, err := probeDialer().DialContext(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	defer conn.Close()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatalf("raw conn: %v", err)
	}
	var linger *unix.Linger
	var sockErr error
	if err := raw.Control(func(fd uintptr) {
		linger, sockErr = unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER)
	}); err != nil {
		t.Fatalf("control: %v", err)
	}
	if sockErr != nil {
		t.Fatalf("reading SO_LINGER: %v", sockErr)
	}
	if linger.Onoff != 1 || linger.Linger != 1 {
		t.Errorf("SO_LINGER = %+v, want on with 1s", *linger)
	}
}
