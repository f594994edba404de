package certificate

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// set is the node's credentials, PEM-encoded: the cloud CA, the client
// key and the client certificate. They are only usable together.
type set struct {
	ca, key, cert []byte
}

// newSet encodes what the cloud issued with the key it was issued for.
func newSet(caDER, certDER []byte, key *ecdsa.PrivateKey) (set, error) {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return set{}, fmt.Errorf("encode key: %w", err)
	}
	return set{
		ca:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}),
	}, nil
}

// parse checks that the three belong together as far as the files can
// tell (the key is the certificate's), and returns them decoded.
func (s set) parse() (tls.Certificate, *x509.Certificate, error) {
	caDER, err := pemDER(s.ca)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("CA: %w", err)
	}
	pair, err := tls.X509KeyPair(s.cert, s.key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("client certificate and key: %w", err)
	}
	return pair, ca, nil
}

// Steps of a save, in order, as the test seam sees them.
const (
	stepNextDir     = "next set: directory made"
	stepNextCA      = "next set: CA written"
	stepNextKey     = "next set: key written"
	stepNextCert    = "next set: certificate written"
	stepCommitted   = "next set: committed"
	stepInstallCA   = "installed: CA"
	stepInstallKey  = "installed: key"
	stepInstallCert = "installed: certificate"
	stepNextRemoved = "next set: removed"
)

// Names inside the next-set directory.
const (
	nextCA   = "ca.crt"
	nextKey  = "client.key"
	nextCert = "client.crt"
)

// store keeps the set at the configured paths (tlsCaFile,
// tlsPrivateKeyFile, tlsCertFile: KubeEdge's, so tools that read them keep
// working) and changes it as one.
//
// Three files cannot be replaced by one rename, so a new set is first
// written whole into a temporary directory next to the certificate, which
// one rename then commits as the "next set". Only then are the three
// configured files replaced, one by one, from it, and the next set is
// removed last. Whoever reads finishes an interrupted install first: before
// the commit the configured files are the old set, untouched; after it the
// next set is complete and wins. A power cut at any point therefore leaves
// the old set or the new one, never a new key beside the old certificate.
type store struct {
	caFile, certFile, keyFile string
	// afterStep, when set, runs after each step of a save (tests stop the
	// process there).
	afterStep func(step string)
}

func (st *store) step(name string) {
	if st.afterStep != nil {
		st.afterStep(name)
	}
}

// nextDir holds a committed set until it is installed.
func (st *store) nextDir() string {
	return filepath.Join(filepath.Dir(st.certFile), "."+filepath.Base(st.certFile)+".next")
}

// errNoCertificate means nothing was ever stored: a first join, not a loss.
var errNoCertificate = errors.New("no client certificate stored yet")

// save replaces the stored set with s. It first finishes an earlier save
// that was interrupted, so a committed set is never dropped half
// installed.
func (st *store) save(s set) error {
	if _, err := st.settle(); err != nil {
		return fmt.Errorf("store certificates: %w", err)
	}
	if err := st.writeNext(s); err != nil {
		return fmt.Errorf("store certificates: %w", err)
	}
	if err := st.install(s); err != nil {
		return fmt.Errorf("store certificates: %w (the new set stays in %s and is installed at the next start)", err, st.nextDir())
	}
	return nil
}

// writeNext writes s into a fresh directory and commits it with one rename.
func (st *store) writeNext(s set) error {
	dir := filepath.Dir(st.certFile)
	if err := atomicfile.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, filepath.Base(st.nextDir())+".tmp-")
	if err != nil {
		return err
	}
	st.step(stepNextDir)
	for _, f := range []struct {
		name string
		data []byte
		step string
	}{{nextCA, s.ca, stepNextCA}, {nextKey, s.key, stepNextKey}, {nextCert, s.cert, stepNextCert}} {
		if err := atomicfile.WriteFile(filepath.Join(tmp, f.name), f.data, 0o600); err != nil {
			atomicfile.RemoveAll(tmp)
			return err
		}
		st.step(f.step)
	}
	if err := atomicfile.Rename(tmp, st.nextDir()); err != nil {
		atomicfile.RemoveAll(tmp)
		return err
	}
	st.step(stepCommitted)
	return nil
}

// install copies a committed set onto the configured paths, then removes
// the next set. Running it again after an interruption is harmless.
func (st *store) install(s set) error {
	for _, f := range []struct {
		path string
		data []byte
		step string
	}{{st.caFile, s.ca, stepInstallCA}, {st.keyFile, s.key, stepInstallKey}, {st.certFile, s.cert, stepInstallCert}} {
		if err := atomicfile.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(f.path, f.data, 0o600); err != nil {
			return err
		}
		st.step(f.step)
	}
	if err := atomicfile.RemoveAll(st.nextDir()); err != nil {
		return err
	}
	st.step(stepNextRemoved)
	return nil
}

// settle finishes what an interrupted save left: an uncommitted next set
// is deleted, a committed one is installed. When that install fails, the
// committed set is returned with the error, to be used from where it is.
func (st *store) settle() (*set, error) {
	st.dropUncommitted()
	dir := st.nextDir()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	next, err := readSet(filepath.Join(dir, nextCA), filepath.Join(dir, nextKey), filepath.Join(dir, nextCert))
	if err == nil {
		_, _, err = next.parse()
	}
	if err != nil {
		// Only a damaged disk gets here: a set is committed whole.
		klog.Warningf("certificate: discarding the unusable new set in %s: %v", dir, err)
		return nil, atomicfile.RemoveAll(dir)
	}
	klog.Infof("certificate: finishing the installation of the new set from %s", dir)
	if err := st.install(next); err != nil {
		return &next, fmt.Errorf("install the new set from %s: %w", dir, err)
	}
	return nil, nil
}

// current returns the set in force, after settling an interrupted save.
func (st *store) current() (set, error) {
	pending, err := st.settle()
	if pending != nil {
		klog.Warningf("certificate: %v; using it from there", err)
		return *pending, nil
	}
	if err != nil {
		klog.Warningf("certificate: %v", err)
	}
	return st.installed()
}

// installed reads the set at the configured paths.
func (st *store) installed() (set, error) {
	s, err := readSet(st.caFile, st.keyFile, st.certFile)
	if err == nil {
		return s, nil
	}
	_, certErr := os.Stat(st.certFile)
	_, keyErr := os.Stat(st.keyFile)
	if errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist) {
		return set{}, fmt.Errorf("%w (%s and %s absent)", errNoCertificate, st.certFile, st.keyFile)
	}
	return set{}, err
}

// dropUncommitted deletes next-set directories a save left before its
// commit: they were never in force.
func (st *store) dropUncommitted() {
	prefix := filepath.Base(st.nextDir()) + ".tmp-"
	entries, err := os.ReadDir(filepath.Dir(st.certFile))
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			if err := atomicfile.RemoveAll(filepath.Join(filepath.Dir(st.certFile), e.Name())); err != nil {
				klog.Warningf("certificate: %v", err)
			}
		}
	}
}

func readSet(caFile, keyFile, certFile string) (set, error) {
	var s set
	var err error
	for _, f := range []struct {
		path string
		into *[]byte
		what string
	}{{caFile, &s.ca, "CA"}, {keyFile, &s.key, "client key"}, {certFile, &s.cert, "client certificate"}} {
		if *f.into, err = os.ReadFile(f.path); err != nil {
			return set{}, fmt.Errorf("read %s: %w", f.what, err)
		}
	}
	return s, nil
}

func pemDER(data []byte) ([]byte, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return block.Bytes, nil
}

// LoadKeyPair reads a client certificate and key and parses the leaf.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load client certificate: %w", err)
	}
	return pair, nil
}
