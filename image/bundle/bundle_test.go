package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// testKey is a fixed signing key, so failures reproduce.
func testKey(t testing.TB, seed byte) PrivateKey {
	k, err := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		panic(err) // a reader of enough bytes cannot fail
	}
	return k
}

// slotImage is a stand-in slot partition: runs of random bytes (the
// compressed root image, the kernel) between runs of zeros (free FAT
// clusters), as a real slot is.
func slotImage(size int, seed uint64) []byte {
	r := mrand.New(mrand.NewPCG(seed, seed))
	img := make([]byte, size)
	for off := 0; off < size; off += 64 << 10 {
		if r.IntN(3) == 0 {
			continue
		}
		end := min(off+64<<10, size)
		for i := off; i < end; i += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && i+j < end; j++ {
				img[i+j] = byte(v >> (8 * j))
			}
		}
	}
	return img
}

var defaultParams = Params{Board: "qemu-arm64", Version: "v2", Build: 200}

// fixture is one bundle of a 512 KiB image by testKey(1), made once: the
// best zstd level takes seconds to set up under the race detector, and
// most tests only need a bundle to take apart.
var fixture = sync.OnceValue(func() (f struct {
	img, data, payload []byte
	m                  Manifest
}) {
	f.img = slotImage(512<<10, 5)
	var b bytes.Buffer
	m, err := Write(&b, bytes.NewReader(f.img), defaultParams, testKey(nil, 1), "")
	if err != nil {
		panic(err)
	}
	f.data, f.m = b.Bytes(), m
	f.payload = f.data[len(f.data)-int(m.PayloadSize):]
	return f
})

// policy trusts key and runs build 100 of qemu-arm64.
func policy(keys ...PrivateKey) Policy {
	var pubs []PublicKey
	for _, k := range keys {
		pubs = append(pubs, k.Public())
	}
	return Policy{Board: "qemu-arm64", Build: 100, Keys: NewKeyRing(pubs...)}
}

func writeBundle(t testing.TB, img []byte, p Params, key PrivateKey) ([]byte, Manifest) {
	t.Helper()
	var b bytes.Buffer
	m, err := Write(&b, bytes.NewReader(img), p, key, t.TempDir())
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes(), m
}

// assemble signs m as it is (no checks) and puts the bundle together,
// for manifests Write would never produce.
func assemble(key PrivateKey, m Manifest, payload []byte) []byte {
	raw, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	return assembleRaw(key, raw, payload)
}

func assembleRaw(key PrivateKey, raw, payload []byte) []byte {
	out := header(key.ID, raw, ed25519.Sign(key.Key, raw))
	out = append(out, raw...)
	return append(out, payload...)
}

// readAll opens the bundle and reads its image.
func readAll(data []byte, p Policy) ([]byte, error) {
	r, err := Open(bytes.NewReader(data), p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestRoundTrip(t *testing.T) {
	key := testKey(t, 1)
	img := slotImage(1<<20+123, 1)
	data, m := writeBundle(t, img, Params{Board: "qemu-arm64", Version: "v2", Build: 200, MinBuild: 50}, key)
	sum := sha256.Sum256(img)
	want := Manifest{Format: 1, Board: "qemu-arm64", Version: "v2", Build: 200, MinBuild: 50, ImageSize: int64(len(img)),
		ImageSHA256: hex.EncodeToString(sum[:]), Compression: "zstd", PayloadSize: m.PayloadSize, KeyID: key.ID.String()}
	if m != want {
		t.Fatalf("manifest %+v, want %+v", m, want)
	}
	if m.PayloadSize >= int64(len(img)) || int64(len(data)) != int64(HeaderSize)+manifestLen(t, data)+m.PayloadSize {
		t.Fatalf("bundle of %d bytes, payload %d, image %d", len(data), m.PayloadSize, len(img))
	}
	r, err := Open(bytes.NewReader(data), policy(testKey(t, 9), key))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	if r.Manifest() != want {
		t.Fatalf("Open's manifest %+v, want %+v", r.Manifest(), want)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, img) {
		t.Fatalf("image: %d bytes (want %d), equal %v, err %v", len(got), len(img), bytes.Equal(got, img), err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end = %d, %v; want 0, EOF", n, err)
	}
}

func manifestLen(t testing.TB, data []byte) int64 {
	t.Helper()
	return int64(data[lengthOffset])<<24 | int64(data[lengthOffset+1])<<16 | int64(data[lengthOffset+2])<<8 | int64(data[lengthOffset+3])
}

// TestOpenReadsOnlyTheHeader: the device decides on a bundle before a byte
// of its payload has arrived.
func TestOpenReadsOnlyTheHeader(t *testing.T) {
	key, data := testKey(t, 1), fixture().data
	src := &countingReader{r: bytes.NewReader(data)}
	r, err := Open(src, policy(key))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if want := int64(HeaderSize) + manifestLen(t, data); src.n != want {
		t.Fatalf("Open read %d bytes, want exactly the header and manifest, %d", src.n, want)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// TestRefused: each bundle a device must refuse fails with its reason.
func TestRefused(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	good, m, payload := fixture().data, fixture().m, fixture().payload
	with := func(f func(*Manifest)) []byte {
		c := m
		f(&c)
		return assemble(key, c, payload)
	}
	flip := func(off int) []byte {
		b := bytes.Clone(good)
		b[off] ^= 0x40
		return b
	}
	mlen := int(manifestLen(t, good))
	tests := []struct {
		name   string
		data   []byte
		policy Policy
		want   error
	}{
		{"not a bundle", append([]byte("EGBUNDLX"), good[8:]...), policy(key), ErrNotBundle},
		{"unknown key", good, policy(other), ErrUnknownKey},
		{"no keys", good, Policy{Board: "qemu-arm64", Build: 100}, ErrUnknownKey},
		{"signature of another key", forge(good, other), policy(key), ErrBadSignature},
		{"flipped signature byte", flip(sigOffset + 10), policy(key), ErrBadSignature},
		{"flipped manifest byte", flip(HeaderSize + mlen/2), policy(key), ErrBadSignature},
		{"flipped key id byte", flip(keyIDOffset), policy(key), ErrUnknownKey},
		{"other board", with(func(m *Manifest) { m.Board = "qemu-armv7" }), policy(key), ErrOtherBoard},
		{"older build", with(func(m *Manifest) { m.Build = 99 }), policy(key), ErrOlderBuild},
		{"below minimum", with(func(m *Manifest) { m.MinBuild = 101 }), policy(key), ErrBelowMinimum},
		{"older downgrade below minimum", with(func(m *Manifest) { m.Build, m.Downgrade, m.MinBuild = 50, true, 150 }), policy(key), ErrBelowMinimum},
		{"format 2", with(func(m *Manifest) { m.Format = 2 }), policy(key), ErrUnsupported},
		{"xz", with(func(m *Manifest) { m.Compression = "xz" }), policy(key), ErrUnsupported},
		{"no version", with(func(m *Manifest) { m.Version = "" }), policy(key), ErrMalformed},
		{"bad sha256", with(func(m *Manifest) { m.ImageSHA256 = "AB" }), policy(key), ErrMalformed},
		{"key id differs from the header's", with(func(m *Manifest) { m.KeyID = other.ID.String() }), policy(key), ErrMalformed},
		{"unknown manifest field", assembleRaw(key, []byte(`{"format":1,"rollout":"all"}`), payload), policy(key), ErrMalformed},
		{"manifest length beyond the limit", withLength(good, MaxManifestSize+1), policy(key), ErrMalformed},
		{"manifest length 4 GiB", withLength(good, 1<<32-1), policy(key), ErrMalformed},
		{"image sha256 differs", with(func(m *Manifest) { m.ImageSHA256 = hex.EncodeToString(make([]byte, 32)) }), policy(key), ErrCorrupt},
		{"image larger than declared", with(func(m *Manifest) { m.ImageSize-- }), policy(key), ErrOversized},
		{"image smaller than declared", with(func(m *Manifest) { m.ImageSize++ }), policy(key), ErrCorrupt},
		{"payload cut short, signed so", with(func(m *Manifest) { m.PayloadSize++ }), policy(key), ErrTruncated},
		{"payload shorter than declared", with(func(m *Manifest) { m.PayloadSize-- }), policy(key), ErrCorrupt},
		{"stream longer than the payload", append(bytes.Clone(good), 0), policy(key), ErrOversized},
		{"flipped payload byte", flip(len(good) - int(m.PayloadSize)/2), policy(key), ErrCorrupt},
		{"flipped last byte", flip(len(good) - 1), policy(key), ErrCorrupt},
		{"garbage payload", assemble(key, m, bytes.Repeat([]byte{0x55}, int(m.PayloadSize))), policy(key), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(tt.data, tt.policy)
			if !errors.Is(err, tt.want) {
				t.Fatalf("read %d bytes, error %v; want %v", len(got), err, tt.want)
			}
			t.Log(err)
		})
	}
}

// forge replaces the signature with one by another key, keeping the
// header's key ID.
func forge(data []byte, by PrivateKey) []byte {
	b := bytes.Clone(data)
	n := int(b[lengthOffset])<<24 | int(b[lengthOffset+1])<<16 | int(b[lengthOffset+2])<<8 | int(b[lengthOffset+3])
	copy(b[sigOffset:], ed25519.Sign(by.Key, b[HeaderSize:HeaderSize+n]))
	return b
}

func withLength(data []byte, n uint32) []byte {
	b := bytes.Clone(data)
	b[lengthOffset], b[lengthOffset+1], b[lengthOffset+2], b[lengthOffset+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return b
}

// TestAccepted: what a device must take.
func TestAccepted(t *testing.T) {
	key, f := testKey(t, 1), fixture()
	for _, change := range []func(*Manifest){
		func(m *Manifest) { m.Build = 100 },                     // the running build again
		func(m *Manifest) { m.Build, m.Downgrade = 50, true },   // a signed downgrade
		func(m *Manifest) { m.MinBuild = 100 },                  // exactly the minimum
		func(m *Manifest) { m.Build, m.MinBuild = 1<<62, 1 },    // a build number far ahead
		func(m *Manifest) { m.Version = "v2.0.0-rc1+g1234567" }, // any version text
	} {
		m := f.m
		change(&m)
		got, err := readAll(assemble(key, m, f.payload), policy(key))
		if err != nil || !bytes.Equal(got, f.img) {
			t.Errorf("%+v: %d bytes, %v", m, len(got), err)
		}
	}
}

// TestTruncatedEverywhere cuts the bundle at every region boundary and
// either side of it, and at 40 places spread over the payload.
func TestTruncatedEverywhere(t *testing.T) {
	key, data, m := testKey(t, 1), fixture().data, fixture().m
	mEnd := HeaderSize + int(manifestLen(t, data))
	var cuts []int
	for _, b := range []int{0, keyIDOffset, lengthOffset, sigOffset, HeaderSize, mEnd, len(data)} {
		cuts = append(cuts, b-1, b, b+1)
	}
	for c := mEnd; c < len(data); c += max(1, int(m.PayloadSize)/40) {
		cuts = append(cuts, c)
	}
	for _, c := range cuts {
		if c < 0 || c >= len(data) {
			continue
		}
		got, err := readAll(data[:c], policy(key))
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d of %d (manifest ends at %d, payload %d): %d bytes read, error %v; want %v",
				c, len(data), mEnd, m.PayloadSize, len(got), err, ErrTruncated)
		}
	}
}

// TestEveryPayloadFlipFails flips one byte in 30 places spread over the
// payload: no altered bundle is ever read to the end.
func TestEveryPayloadFlipFails(t *testing.T) {
	key, data, m := testKey(t, 1), fixture().data, fixture().m
	start := len(data) - int(m.PayloadSize)
	for off := start; off < len(data); off += max(1, int(m.PayloadSize)/30) {
		b := bytes.Clone(data)
		b[off] ^= 1
		_, err := readAll(b, policy(key))
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrOversized) {
			t.Errorf("byte %d of the payload flipped: error %v, want %v or %v", off-start, err, ErrCorrupt, ErrOversized)
		}
	}
}

// TestHugeDeclaredSizesDoNotAllocate: sizes come from the stream, memory
// must not.
func TestHugeDeclaredSizesDoNotAllocate(t *testing.T) {
	key, data, m, payload := testKey(t, 1), fixture().data, fixture().m, fixture().payload
	huge := m
	huge.ImageSize, huge.PayloadSize = MaxImageSize, MaxImageSize
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"manifest length 4 GiB", withLength(data, 1<<32-1), ErrMalformed},
		{"image and payload of 1 TiB", assemble(key, huge, payload), ErrTruncated},
	}
	for _, tt := range tests {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := readAll(tt.data, policy(key))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
			t.Errorf("%s: %d MiB allocated", tt.name, grew>>20)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 2)
	privPEM, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKey(privPEM)
	if err != nil || back.ID != a.ID || !back.Key.Equal(a.Key) {
		t.Fatalf("private key round trip: %v, id %s want %s", err, back.ID, a.ID)
	}
	pubA, _ := a.Public().Marshal()
	pubB, _ := b.Public().Marshal()
	if !bytes.Contains(pubA, []byte("key id "+a.ID.String())) {
		t.Errorf("public key file does not name its id:\n%s", pubA)
	}
	ring, err := ParseKeyRing(append(append(bytes.Clone(pubA), "\n# next\n"...), pubB...))
	if err != nil {
		t.Fatal(err)
	}
	if ids := ring.IDs(); len(ids) != 2 {
		t.Fatalf("ring holds %v, want both keys", ids)
	}
	if k, ok := ring.Lookup(b.ID); !ok || !k.Equal(b.Public().Key) {
		t.Fatal("ring lacks the second key")
	}
	if p, err := ParsePublicKey(pubA); err != nil || p.ID != a.ID {
		t.Fatalf("ParsePublicKey: %v %s", err, p.ID)
	}
	for name, data := range map[string][]byte{
		"empty":              nil,
		"private key":        privPEM,
		"public then broken": append(bytes.Clone(pubA), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"...),
	} {
		if _, err := ParseKeyRing(data); err == nil {
			t.Errorf("ParseKeyRing(%s) succeeded", name)
		}
	}
	if _, err := ParsePrivateKey(pubA); err == nil {
		t.Error("ParsePrivateKey took a public key")
	}
	if _, err := ParsePublicKey(append(bytes.Clone(pubA), pubB...)); err == nil {
		t.Error("ParsePublicKey took two keys")
	}
	if _, err := GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
}
