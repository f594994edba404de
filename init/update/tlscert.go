package update

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// The service's key and certificate, in its state directory.
const (
	serverKeyFile  = "server.key"
	serverCertFile = "server.crt"
)

// Certificates here are trusted by their fingerprint, never by a chain or
// their dates: a gateway's clock may be wrong when it first starts, so
// they are valid from 2000 to the end of 9999.
var (
	certNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	certNotAfter  = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// Fingerprint is the lowercase hex sha256 of a certificate's DER: what a
// client pins and records.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// selfSigned makes a self-signed certificate for an ed25519 key.
func selfSigned(key ed25519.PrivateKey, name string, serial *big.Int) (tls.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    certNotBefore,
		NotAfter:     certNotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate for %s: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate for %s: %w", name, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// serverCert loads the service's key and certificate from dir, or makes
// and stores them on the first start. A pair that does not load (one file
// missing after a power cut between the two writes, say) is made anew:
// clients that knew the old one then refuse the new fingerprint.
func serverCert(dir string) (tls.Certificate, error) {
	keyPath, certPath := filepath.Join(dir, serverKeyFile), filepath.Join(dir, serverCertFile)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0])
	}
	if err == nil {
		return cert, nil
	}
	if _, statErr := os.Stat(keyPath); !errors.Is(statErr, fs.ErrNotExist) {
		klog.Warningf("update: the TLS key pair in %s does not load (%v): making a new one", dir, err)
	}
	return newServerCert(dir, keyPath, certPath)
}

func newServerCert(dir, keyPath, certPath string) (tls.Certificate, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS certificate serial: %w", err)
	}
	cert, err := selfSigned(key, "edgegate-update", serial)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS key: %w", err)
	}
	if err := atomicfile.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, err
	}
	// The key first: a certificate never lies next to a key it does not
	// belong to.
	if err := atomicfile.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := atomicfile.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return cert, nil
}
