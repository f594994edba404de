package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/image/bundle"
)

// ReadClients reads the operator keys allowed to connect
// (/etc/edgegate/ota-clients.pem: public keys as `edgegate ota keygen`
// writes them, concatenated).
func ReadClients(path string) (bundle.KeyRing, error) {
	ring, err := bundle.ReadKeyRing(path)
	if err != nil {
		return bundle.KeyRing{}, fmt.Errorf("update clients: %w", err)
	}
	return ring, nil
}

// ClientCertificate is the certificate a client presents: self-signed by
// its operator key, made on the fly. The service looks only at the public
// key in it (and TLS has the client prove it holds the private one).
func ClientCertificate(key bundle.PrivateKey) (tls.Certificate, error) {
	if key.Key == nil {
		return tls.Certificate{}, fmt.Errorf("no client key (the operator key from 'edgegate ota keygen')")
	}
	return selfSigned(key.Key, "edgegate operator "+key.ID.String(), big.NewInt(1))
}

// checkClient returns the peer-certificate check of a server that admits
// only clients whose certificate carries a key of clients. A refusal ends
// the handshake with a TLS alert and is logged with the key's ID.
func checkClient(clients bundle.KeyRing, remote string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		err := clientAllowed(clients, raw)
		if err != nil {
			klog.Warningf("update: refused a client from %s: %v", remote, err)
		}
		return err
	}
}

func clientAllowed(clients bundle.KeyRing, raw [][]byte) error {
	if len(raw) == 0 {
		return fmt.Errorf("no client certificate")
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return fmt.Errorf("client certificate with a %T key, want ed25519", cert.PublicKey)
	}
	id := bundle.KeyIDOf(pub)
	known, ok := clients.Lookup(id)
	if !ok || !bytes.Equal(known, pub) {
		return fmt.Errorf("client key %s is not in the gateway's update clients %v", id, clients.IDs())
	}
	return nil
}
