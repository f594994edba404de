package qemu

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

const (
	// udpHostPort is the udpecho pod's UDP hostPort on the guest, which
	// QEMU forwards (UDP) to podNode.udpPort on the host's loopback.
	udpHostPort = 18082
	// udpContainerPort is where udpecho listens in its pod (CoAP's port,
	// a UDP service gateways run).
	udpContainerPort = 5683
	// udpAnswerWithin bounds the wait for the first answer once the pod
	// runs: the server may not listen yet, and a datagram may be lost.
	udpAnswerWithin = time.Minute
	// udpEchoAnswer starts podapp udp-echo's answers.
	udpEchoAnswer = "podapp udp-echo: "
)

// testUDPHostPort publishes a pod's UDP port on the gateway (hostPort,
// protocol UDP) and sends it datagrams from the host through QEMU's UDP
// forward: the pod's echo comes back the same way, through the gateway's
// DNAT and firewall.
func (n *podNode) testUDPHostPort(t *testing.T) {
	created := time.Now()
	n.create(t, n.udpPod())
	n.waitPod(t, "udpecho", "Running and Ready", created, runningReady)
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", n.udpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sentBy := " from the host to " + n.board.Name
	buf := make([]byte, 512)
	began := time.Now()
	for i := 1; ; i++ {
		if _, err := fmt.Fprintf(conn, "ping %d%s", i, sentBy); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, err := conn.Read(buf)
		if err == nil {
			// An answer may be to an earlier ping that was slow.
			got := string(buf[:k])
			if !strings.HasPrefix(got, udpEchoAnswer+"ping ") || !strings.HasSuffix(got, sentBy) {
				t.Fatalf("the guest's UDP port %d answered %q, want podapp's echo of a ping", udpHostPort, got)
			}
			t.Logf("udpecho answered %q through the UDP hostPort %s after the pod ran (%d pings)", got, time.Since(began).Round(100*time.Millisecond), i)
			return
		}
		if time.Since(began) > udpAnswerWithin {
			t.Fatalf("no answer through the UDP hostPort %d (host port %d) within %s: %v\n%s",
				udpHostPort, n.udpPort, udpAnswerWithin, err, n.describe(n.getPodOrFail(t, "udpecho")))
		}
	}
}

// udpPod runs podapp's UDP echo on udpContainerPort, published on the
// gateway as UDP udpHostPort.
func (n *podNode) udpPod() *v1.Pod {
	app := n.container("echo", "udp-echo", fmt.Sprint(udpContainerPort))
	app.Ports = []v1.ContainerPort{{ContainerPort: udpContainerPort, HostPort: udpHostPort, Protocol: v1.ProtocolUDP}}
	return n.pod("udpecho", v1.RestartPolicyAlways, app)
}

// freeLoopbackUDPPort is a UDP port on the host's loopback nothing uses.
func freeLoopbackUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
