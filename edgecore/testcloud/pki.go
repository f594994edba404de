// Package testcloud is a cloudcore stand-in for host tests: it issues the CA
// and join tokens, serves ca.crt/edge.crt, and runs cloudhub's websocket side
// (client-certificate auth, resend until ack, keepalive timeout), following
// shared/notes/KUBEEDGE.md §3–§4 byte for byte. It is test code: it keeps
// everything in memory.
package testcloud

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// authority is the cloud CA. cloudcore signs join JWTs with the CA key's DER
// bytes as the HMAC key. Like cloudcore (pkg/security/certs), it makes
// every certificate valid from the moment it signs it, by its own clock:
// a gateway whose clock is behind sees them as not valid yet.
type authority struct {
	cert   *x509.Certificate
	der    []byte
	key    *ecdsa.PrivateKey
	keyDER []byte
	now    func() time.Time // the cloud's clock
}

func newAuthority(now func() time.Time) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "KubeEdge"},
		NotBefore:             now(),
		NotAfter:              now().Add(100 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &authority{cert: cert, der: der, key: key, keyDER: keyDER, now: now}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	return n
}

// sign issues a certificate for pub with the given subject and validity.
func (a *authority) sign(subject pkix.Name, pub any, notBefore, notAfter time.Time, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
		DNSNames:     []string{"localhost"},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, a.cert, pub, a.key)
}

// serverCert is cloudcore's own certificate, with loopback and 10.0.2.2
// (the host as a QEMU guest on user networking reaches it) in its SANs.
func (a *authority) serverCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	der, err := a.sign(pkix.Name{CommonName: "cloudcore"}, key.Public(), a.now(),
		a.now().Add(365*24*time.Hour), x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 0, 2, 2)})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// token builds "<sha256hex(CA DER)>.<JWT{exp}>" as cloudcore's token manager does.
func (a *authority) token(ttl time.Duration) (string, error) {
	sum := sha256.Sum256(a.der)
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"exp": a.now().Add(ttl).Unix(),
	}).SignedString(a.keyDER)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return hex.EncodeToString(sum[:]) + "." + signed, nil
}

func (a *authority) verifyToken(s string) error {
	_, err := jwt.Parse(s, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return a.keyDER, nil
	}, jwt.WithExpirationRequired(), jwt.WithTimeFunc(a.now))
	return err
}

// IssueClientCert signs a client certificate for node with the given
// validity and returns PEM certificate and key, for tests that need an
// expired or otherwise unusual certificate.
func (c *Cloud) IssueClientCert(node string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := c.ca.sign(pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
		key.Public(), notBefore, notAfter, x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// CAPEM is the CA certificate in PEM.
func (c *Cloud) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.ca.der})
}
