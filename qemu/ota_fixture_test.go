package qemu

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/update"
)

// The OTA tests boot the leanest image that carries the update service
// (no container runtime, no edgecore) through U-Boot, and push it signed
// bundles over QEMU's user network with the client `edgegate ota push`
// uses. Every image trusts the same signing key and operator key, made
// once per test binary; images and bundles are built once and shared.

// The build numbers of the three versions an update goes through.
const (
	otaBuildN  = 100
	otaBuildN1 = 200
	otaBuildN2 = 300
)

// otaTimeout bounds one update: a push, the reboot and the trial boot.
const otaTimeout = 5 * time.Minute

// otaFixture holds the keys and bundles shared by the OTA tests; guarded
// by images' lock, like the images.
var otaFixture struct {
	sign, operator bundle.PrivateKey // zero until first use
	bundles        map[string][]byte
}

func otaVersion(build uint64) string { return fmt.Sprintf("ota-%d", build) }

// otaKeysLocked returns the signing and operator keys, making them on
// first use. images must be locked.
func otaKeysLocked(t testing.TB) (sign, operator bundle.PrivateKey) {
	t.Helper()
	if otaFixture.bundles == nil {
		var err error
		if otaFixture.sign, err = bundle.GenerateKey(rand.Reader); err != nil {
			t.Fatal(err)
		}
		if otaFixture.operator, err = bundle.GenerateKey(rand.Reader); err != nil {
			t.Fatal(err)
		}
		otaFixture.bundles = map[string][]byte{}
	}
	return otaFixture.sign, otaFixture.operator
}

// otaKeys returns the signing key bundles are signed with and the
// operator key the client authenticates with.
func otaKeys(t testing.TB) (sign, operator bundle.PrivateKey) {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	return otaKeysLocked(t)
}

func publicPEM(t testing.TB, k bundle.PrivateKey) []byte {
	t.Helper()
	pem, err := k.Public().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return pem
}

// otaImage returns b's image at build number build, carrying the update
// service with the test's keys, building it on first use.
func otaImage(t testing.TB, b boards.Board, build uint64) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	sign, operator := otaKeysLocked(t)
	key := fmt.Sprintf("%s-ota-%d", b.Name, build)
	if p, ok := images.built[key]; ok {
		return p
	}
	out := filepath.Join(images.dir, key+".img")
	began := time.Now()
	_, err := image.Build(context.Background(), image.Options{
		Board: b, Version: otaVersion(build), BuildNumber: build, Output: out, Cache: testCache(t),
		UpdateKeys:    [][]byte{publicPEM(t, sign)},
		UpdateClients: [][]byte{publicPEM(t, operator)},
	})
	if err != nil {
		t.Fatalf("building %s: %v", key, err)
	}
	t.Logf("built %s in %v", key, time.Since(began).Round(time.Millisecond))
	images.built[key] = out
	return out
}

// otaDisk copies b's image at build for one gateway.
func otaDisk(t testing.TB, b boards.Board, build uint64) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "disk.img")
	if err := CopyImage(otaImage(t, b, build), dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// otaBundle returns the signed bundle of b's image at build.
func otaBundle(t testing.TB, b boards.Board, build uint64) []byte {
	t.Helper()
	return bundleOf(t, otaImage(t, b, build))
}

// bundleOf returns the bundle of img's slot A signed with the test's key,
// with the board, version and build its build record names: what
// `edgegate ota bundle` makes of it. Each is made once.
func bundleOf(t testing.TB, img string) []byte {
	t.Helper()
	info, err := ImageInfo(img)
	if err != nil {
		t.Fatal(err)
	}
	images.Lock()
	defer images.Unlock()
	sign, _ := otaKeysLocked(t)
	if data, ok := otaFixture.bundles[img]; ok {
		return data
	}
	slot, closeImg, err := image.SlotImage(img)
	if err != nil {
		t.Fatal(err)
	}
	defer closeImg()
	var buf bytes.Buffer
	p := bundle.Params{Board: info.Board, Version: info.Version, Build: info.Build}
	m, err := bundle.Write(&buf, slot, p, sign, images.dir)
	if err != nil {
		t.Fatalf("bundle of %s: %v", img, err)
	}
	if m.ImageSize != slot.Size() {
		t.Fatalf("bundle of %s: image of %d bytes, slot A's image %d", img, m.ImageSize, slot.Size())
	}
	otaFixture.bundles[img] = buf.Bytes()
	return buf.Bytes()
}

// The bundle header's fields, as image/bundle lays them out.
const (
	bundleLengthOffset = len(bundle.Magic) + bundle.KeyIDSize
	bundleSigOffset    = bundleLengthOffset + 4
)

// splitBundle returns a bundle's manifest and payload.
func splitBundle(t testing.TB, data []byte) (bundle.Manifest, []byte) {
	t.Helper()
	n := int(binary.BigEndian.Uint32(data[bundleLengthOffset:]))
	var m bundle.Manifest
	if err := json.Unmarshal(data[bundle.HeaderSize:bundle.HeaderSize+n], &m); err != nil {
		t.Fatal(err)
	}
	return m, data[bundle.HeaderSize+n:]
}

// resign returns data's payload under its manifest changed by edit and
// signed by key: a bundle its signer really made.
func resign(t testing.TB, data []byte, key bundle.PrivateKey, edit func(*bundle.Manifest)) []byte {
	t.Helper()
	m, payload := splitBundle(t, data)
	edit(&m)
	m.KeyID = key.ID.String()
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, bundle.HeaderSize, bundle.HeaderSize+len(raw)+len(payload))
	copy(out, bundle.Magic)
	copy(out[len(bundle.Magic):], key.ID[:])
	binary.BigEndian.PutUint32(out[bundleLengthOffset:], uint32(len(raw)))
	copy(out[bundleSigOffset:], ed25519.Sign(key.Key, raw))
	return append(append(out, raw...), payload...)
}

// sha256Hex is the hex sha256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// partitionSum is the sha256 of partition n of a disk image.
func partitionSum(t testing.TB, d string, n int) string {
	t.Helper()
	return partitionPrefixSum(t, d, n, -1)
}

// partitionPrefixSum is the sha256 of the first size bytes of partition n
// of a disk image (all of it when size is negative).
func partitionPrefixSum(t testing.TB, d string, n int, size int64) string {
	t.Helper()
	f, err := os.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off, whole := partitionSpan(t, f, n)
	if size < 0 {
		size = whole
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, size)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// otaGateway is a booted gateway whose update service the host reaches
// through a QEMU forward on the loopback. The machine restarts on a
// guest reboot, as a board does, so one gateway lives through updates.
type otaGateway struct {
	m           *Machine
	client      *update.Client
	fingerprint string
}

// startOTAGateway boots d through U-Boot and connects a client to its
// update service, pinning the certificate fingerprint the service prints
// on the console.
func startOTAGateway(t testing.TB, b boards.Board, d string) *otaGateway {
	t.Helper()
	_, operator := otaKeys(t)
	fw, err := Firmware(context.Background(), testCache(t), b)
	if err != nil {
		t.Fatal(err)
	}
	port := freeTCPPort(t)
	m, err := Start(context.Background(), Config{
		Board: b, Image: d, Path: UBoot, Firmware: fw, Reboot: true,
		Forwards: []Forward{{HostPort: port, GuestPort: update.DefaultPort}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	fp := expect(t, m, `listening on :\d+, certificate sha256 ([0-9a-f]{64})`)[1]
	c, err := update.NewClient(fmt.Sprintf("127.0.0.1:%d", port), update.ClientOptions{Key: operator, Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}
	return &otaGateway{m: m, client: c, fingerprint: fp}
}

// freeTCPPort returns a port nothing listens on at the moment, for a
// QEMU forward.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// push sends a bundle and returns the service's reply.
func (g *otaGateway) push(t testing.TB, data []byte) (update.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), otaTimeout)
	defer cancel()
	return g.client.Push(ctx, bytes.NewReader(data), int64(len(data)), nil)
}

// settle waits until the update service answers with the running slot
// committed and none on trial (a trial boot commits itself once healthy),
// and returns its status.
func (g *otaGateway) settle(t testing.TB) update.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), otaTimeout)
	defer cancel()
	var last error
	for {
		st, err := g.client.Status(ctx)
		if err == nil && st.Trial == "" && st.Running == st.Active {
			return st
		}
		if err == nil {
			err = fmt.Errorf("status %+v", st)
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("the gateway did not settle on a committed slot: %v; console:\n%s", last, tail(g.m.Console.String(), 6000))
		case <-time.After(time.Second):
		}
	}
}

// checkRunning requires a status of slot committed and running build,
// with no trial pending.
func checkRunning(t testing.TB, st update.Status, b boards.Board, slot string, build uint64) {
	t.Helper()
	want := update.Status{Board: b.Name, Version: otaVersion(build), Build: build, Running: slot, Active: slot}
	got := update.Status{Board: st.Board, Version: st.Version, Build: st.Build, Running: st.Running, Active: st.Active, Trial: st.Trial}
	if got != want {
		t.Fatalf("status %+v, want %+v", st, want)
	}
}

// logWallTime logs, once the test and its subtests are done, how long it
// took: the OTA tests' share of the suite's time.
func logWallTime(t testing.TB) {
	began := time.Now()
	t.Cleanup(func() { t.Logf("wall time %v", time.Since(began).Round(time.Second)) })
}
