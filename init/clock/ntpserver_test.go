package clock

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// ntpServer is the far side of an NTP query as RFC 5905 section 7.3 lays
// out the 48-byte header: it answers mode 3 (client) packets with mode 4
// (server) packets whose clock runs offset ahead of the host's.
type ntpServer struct {
	conn      *net.UDPConn
	offset    time.Duration
	stratum   uint8
	rootDelay time.Duration
	rootDisp  time.Duration
	refID     [4]byte
	leap      uint8 // LI field; 3 means unsynchronized
	silent    bool  // read requests but never answer
	// drop is how many more requests go unanswered before it answers.
	drop atomic.Int32
	// asked counts the requests received.
	asked atomic.Int32
}

const ntpEpochOffset = 2208988800 // seconds from 1900 to 1970

func startNTPServer(t *testing.T, s *ntpServer) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s.conn = conn
	t.Cleanup(func() { conn.Close() })
	go s.serve()
	return conn.LocalAddr().String()
}

func (s *ntpServer) serve() {
	buf := make([]byte, 512)
	for {
		n, peer, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		recv := time.Now().Add(s.offset)
		if n < 48 || buf[0]&0x7 != 3 {
			continue
		}
		s.asked.Add(1)
		if s.silent || s.drop.Add(-1) >= 0 {
			continue
		}
		vn := (buf[0] >> 3) & 0x7
		out := make([]byte, 48)
		out[0] = s.leap<<6 | vn<<3 | 4 // LI, VN as asked, mode 4
		out[1] = s.stratum
		out[2] = buf[2] // poll: echo the client's
		out[3] = 0xEC   // precision: int8 -20, about a microsecond
		binary.BigEndian.PutUint32(out[4:], ntpShort(s.rootDelay))
		binary.BigEndian.PutUint32(out[8:], ntpShort(s.rootDisp))
		copy(out[12:16], s.refID[:])
		binary.BigEndian.PutUint64(out[16:], ntpTimestamp(recv.Add(-30*time.Second))) // reference: last set
		copy(out[24:32], buf[40:48])                                                  // origin = client's transmit
		binary.BigEndian.PutUint64(out[32:], ntpTimestamp(recv))                      // receive
		binary.BigEndian.PutUint64(out[40:], ntpTimestamp(time.Now().Add(s.offset)))  // transmit
		s.conn.WriteToUDP(out, peer)
	}
}

// ntpTimestamp is the 64-bit format: seconds since 1900 . 2^-32 fractions.
func ntpTimestamp(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// ntpShort is the 32-bit format: 16 bits seconds . 16 bits fraction.
func ntpShort(d time.Duration) uint32 {
	return uint32(d.Seconds() * 65536)
}
