package podnet

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/nftables/expr"
)

func TestDNATExprs(t *testing.T) {
	base := dnat{mapping: mapping{protocol: "UDP", hostPort: 53, port: 5353}, podIP: netip.MustParseAddr("10.88.0.9")}
	withIP := base
	withIP.hostIP = netip.MustParseAddr("192.0.2.1")
	for _, tt := range []struct {
		name    string
		d       dnat
		fib     bool   // matches every local address
		daddrEq []byte // matches one address
	}{
		{"every address", base, true, nil},
		{"host IP", withIP, false, []byte{192, 0, 2, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var (
				fib, loopbackExcluded, daddrEq, protoEq bool
				imms                                    [][]byte
				nat                                     *expr.NAT
			)
			for _, e := range dnatExprs(tt.d) {
				switch e := e.(type) {
				case *expr.Fib:
					fib = e.FlagDADDR && e.ResultADDRTYPE
				case *expr.Cmp:
					switch {
					case e.Op == expr.CmpOpNeq && bytes.Equal(e.Data, []byte{127, 0, 0, 0}):
						loopbackExcluded = true
					case e.Op == expr.CmpOpEq && tt.daddrEq != nil && bytes.Equal(e.Data, tt.daddrEq):
						daddrEq = true
					case e.Op == expr.CmpOpEq && bytes.Equal(e.Data, []byte{17}):
						protoEq = true
					}
				case *expr.Immediate:
					imms = append(imms, e.Data)
				case *expr.NAT:
					nat = e
				}
			}
			if fib != tt.fib || loopbackExcluded != tt.fib || daddrEq != (tt.daddrEq != nil) || !protoEq {
				t.Errorf("fib %v, loopback excluded %v, host IP matched %v, UDP matched %v", fib, loopbackExcluded, daddrEq, protoEq)
			}
			if len(imms) != 2 || !bytes.Equal(imms[0], []byte{10, 88, 0, 9}) || !bytes.Equal(imms[1], []byte{0x14, 0xe9}) {
				t.Errorf("DNAT target registers = %v, want 10.88.0.9 and port 5353", imms)
			}
			if nat == nil || nat.Type != expr.NATTypeDestNAT || nat.RegAddrMin != 1 || nat.RegProtoMin != 2 || !nat.Specified {
				t.Errorf("NAT = %+v", nat)
			}
		})
	}
}

func TestHairpinExprs(t *testing.T) {
	var masks, nets [][]byte
	var masq bool
	for _, e := range hairpinExprs(netip.MustParsePrefix("10.88.0.0/16")) {
		switch e := e.(type) {
		case *expr.Bitwise:
			masks = append(masks, e.Mask)
		case *expr.Cmp:
			nets = append(nets, e.Data)
		case *expr.Masq:
			masq = true
		}
	}
	// ct status & dnat, saddr & /16, daddr & /16
	if len(masks) != 3 || !bytes.Equal(masks[1], []byte{255, 255, 0, 0}) || !bytes.Equal(masks[2], []byte{255, 255, 0, 0}) {
		t.Errorf("masks = %v", masks)
	}
	if len(nets) != 3 || !bytes.Equal(nets[1], []byte{10, 88, 0, 0}) || !bytes.Equal(nets[2], []byte{10, 88, 0, 0}) || !masq {
		t.Errorf("compared with %v, masquerade %v", nets, masq)
	}
}
