package prober

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
)

// probeTCP succeeds when a TCP connection to the port opens within timeout.
func probeTCP(ctx context.Context, a *v1.TCPSocketAction, t Target, timeout time.Duration) (Result, string) {
	port, err := resolvePort(a.Port, t.Container)
	if err != nil {
		return Unknown, fmt.Sprintf("tcp probe of container %s: %v", t.containerName(), err)
	}
	host := a.Host
	if host == "" {
		host = t.PodIP
	}
	if host == "" {
		return Unknown, fmt.Sprintf("tcp probe of container %s: no host given and the pod IP is unknown", t.containerName())
	}

	d := probeDialer()
	d.Timeout = timeout
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return Failure, err.Error()
	}
	// The connection opened, which is all the probe asks; a failing close
	// says nothing about the container.
	_ = conn.Close()
	return Success, ""
}
