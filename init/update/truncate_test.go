package update

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
)

// rawTLS dials the gateway as the operator, for requests the Client
// would not send.
func rawTLS(t *testing.T, g *gateway) *tls.Conn {
	t.Helper()
	cert, err := ClientCertificate(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", g.addr, &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestClientGoneMidStream: a client that sends half a bundle and
// disconnects leaves the target invalid and the running slot untouched;
// last.json records the failure, and the service takes the next update.
func TestClientGoneMidStream(t *testing.T) {
	g := newGateway(t)
	b := makeBundle(t, slotImage(2<<20, 7), bundle.Params{}, signKey)
	conn := rawTLS(t, g)
	fmt.Fprintf(conn, "POST /v1/update HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", len(b))
	if _, err := conn.Write(b[:len(b)/2]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the update writing", func() error {
		if st := g.state(t); st.Last != slotstate.Invalidated {
			return fmt.Errorf("slot state %v", st)
		}
		return nil
	})
	conn.Close()
	eventually(t, "the failure recorded", func() error {
		last, err := readLast(g.config.StateDir)
		if err != nil || last == nil || last.Reason != "truncated" {
			return fmt.Errorf("last.json %+v, %v", last, err)
		}
		return nil
	})
	if st := g.state(t); st.TrialSlot != slotstate.NoSlot || st.Last != slotstate.Invalidated || st.LastSlot != slotstate.B {
		t.Errorf("slot state %v, want slot b invalid", st)
	}
	g.checkRunningUntouched(t)
	eventually(t, "the service idle", func() error {
		if st := g.srv.Status(); st.Update != nil {
			return fmt.Errorf("update in progress %+v", st.Update)
		}
		return nil
	})
	if _, err := g.client(t).Push(context.Background(), bytes.NewReader(b), int64(len(b)), nil); err != nil {
		t.Fatalf("the next push: %v", err)
	}
	if st := g.state(t); st.TrialSlot != slotstate.B {
		t.Errorf("slot state after the next push: %v", st)
	}
}

// TestBadInput: garbage bodies, unknown paths and methods, broken
// requests: each gets an error reply or a closed connection, never a
// crash, and the service answers afterwards.
func TestBadInput(t *testing.T) {
	g := newGateway(t)
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := range 20 {
		junk := make([]byte, rng.IntN(200_000))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		if i%2 == 0 && len(junk) > 8 {
			copy(junk, bundle.Magic) // past the magic, into the header
		}
		_, err := g.client(t).Push(context.Background(), bytes.NewReader(junk), int64(len(junk)), nil)
		if err == nil {
			t.Fatalf("junk %d accepted", i)
		}
	}
	requests := []string{
		"GET /v1/update HTTP/1.1\r\nHost: gw\r\n\r\n",
		"POST /v1/status HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n",
		"GET /nothing HTTP/1.1\r\nHost: gw\r\n\r\n",
		"POST /v1/update/pull HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\n{{{{{",
		"POST /v1/update/pull HTTP/1.1\r\nHost: gw\r\nContent-Length: 23\r\n\r\n{\"url\":\"x\",\"other\":1}  ",
		"POST /v1/update HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"BREW /v1/update HTTP/1.1\r\n\r\n",
		"\x00\x01\x02\r\n\r\n",
	}
	for _, req := range requests {
		conn := rawTLS(t, g)
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("%q: %s", strings.SplitN(req, "\r\n", 2)[0], resp.Status)
			}
		}
		conn.Close()
	}
	g.checkRunningUntouched(t)
	if _, err := g.client(t).Status(context.Background()); err != nil {
		t.Fatalf("status after bad input: %v", err)
	}
}
