package main

import (
	"fmt"
	"net"
	"strconv"
)

// udpEchoPrefix starts every answer of udp-echo, so that a test tells the
// container's answer from anything else on the path.
const udpEchoPrefix = "podapp udp-echo: "

// udpEcho answers every datagram to UDP PORT with udpEchoPrefix and the
// datagram, to its sender: a UDP service a hostPort publishes.
func udpEcho(args []string) error {
	port, err := strconv.Atoi(args[0])
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("port %q: want 1 to 65535", args[0])
	}
	conn, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Printf("podapp: echoing UDP on port %d\n", port)
	buf := make([]byte, 64<<10)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		if _, err := conn.WriteTo(append([]byte(udpEchoPrefix), buf[:n]...), from); err != nil {
			return fmt.Errorf("answer %s: %w", from, err)
		}
	}
}
