package kubeapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// Options configure Start.
type Options struct {
	// Binaries to run, as Build returns them. Required.
	Binaries Binaries
	// TempDir is where the server's directory (PKI, etcd data, logs) is
	// made; "" means os.TempDir().
	TempDir string
	// StartTimeout bounds the time until the apiserver is ready; 0 means
	// two minutes, room for a loaded 2-core machine.
	StartTimeout time.Duration
	// APIServerArgs are added after kube-apiserver's flags: a repeated
	// flag replaces ours, a list flag (--enable-admission-plugins) adds.
	APIServerArgs []string
}

// Server is a running etcd and kube-apiserver on loopback.
type Server struct {
	dir       string
	url       string
	config    *rest.Config
	client    kubernetes.Interface
	etcd      *process
	apiserver *process
	stopOnce  sync.Once
}

// ServiceClusterIPRange is the apiserver's service network; its first
// address is the "kubernetes" Service and a SAN of the serving certificate.
const ServiceClusterIPRange = "10.0.0.0/24"

// ServiceAccountIssuer is the issuer of service-account tokens, the one
// kubeadm configures.
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// startAttempts bounds restarts after a port taken between choosing it and
// binding it (another test binary may pick the same free port).
const startAttempts = 3

// Start runs etcd and kube-apiserver and returns once the apiserver is
// ready and its system namespaces exist. ctx bounds the start only; the
// processes run until Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Binaries.APIServer == "" || opts.Binaries.Etcd == "" {
		return nil, errors.New("kubeapi: Options.Binaries is required (see Build)")
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	dir, err := os.MkdirTemp(opts.TempDir, "kubeapi-")
	if err != nil {
		return nil, fmt.Errorf("kubeapi: %w", err)
	}
	_, serviceNet, err := net.ParseCIDR(ServiceClusterIPRange)
	if err != nil {
		return nil, fmt.Errorf("kubeapi: service range: %w", err)
	}
	serviceIP := serviceNet.IP.To4()
	serviceIP[3]++ // the first address, as the apiserver allocates it
	certs, err := newPKI(dir, serviceIP)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	for attempt := 1; ; attempt++ {
		s, err := launch(ctx, dir, certs, opts)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts {
			os.RemoveAll(dir)
			return nil, err
		}
		klog.InfoS("kubeapi: port taken, retrying", "attempt", attempt, "err", err)
	}
}

// errPortTaken marks a start that failed because a chosen port was taken.
var errPortTaken = errors.New("port taken")

// launch starts both processes on fresh ports and waits for the apiserver;
// on failure it leaves nothing running.
func launch(ctx context.Context, dir string, certs *pki, opts Options) (_ *Server, err error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, securePort := ports[0], ports[1], ports[2]
	s := &Server{dir: dir, url: "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(securePort))}
	defer func() {
		if err != nil {
			s.stopProcesses()
		}
	}()

	// A failed attempt's data names its peer URL; start afresh.
	dataDir := filepath.Join(dir, "etcd")
	if err := os.RemoveAll(dataDir); err != nil {
		return nil, fmt.Errorf("kubeapi: etcd data: %w", err)
	}
	start := time.Now()
	s.etcd, err = startProcess(etcdName, filepath.Join(dir, "etcd.log"), opts.Binaries.Etcd,
		etcdArgs(dataDir, etcdClient, etcdPeer), etcdEnv())
	if err != nil {
		return nil, err
	}
	// No need to wait for etcd: the apiserver retries until it answers.
	args := append(apiserverArgs(dir, certs, etcdClient, securePort), opts.APIServerArgs...)
	s.apiserver, err = startProcess(apiserverName, filepath.Join(dir, "kube-apiserver.log"), opts.Binaries.APIServer, args, nil)
	if err != nil {
		return nil, err
	}

	s.config = &rest.Config{
		Host: s.url,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   certs.caPEM,
			CertData: certs.adminCertPEM,
			KeyData:  certs.adminKeyPEM,
		},
		// Tests create objects in bursts; client-go's default of 5/s
		// would make them wait on the client instead of the server.
		QPS:   1000,
		Burst: 2000,
	}
	client, err := kubernetes.NewForConfig(s.config)
	if err != nil {
		return nil, fmt.Errorf("kubeapi: client: %w", err)
	}
	s.client = client

	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}
	klog.InfoS("kubeapi: kube-apiserver ready", "url", s.url, "after", time.Since(start).Round(time.Millisecond), "dir", dir)
	return s, nil
}

// waitReady polls /readyz, then waits for the namespaces the apiserver
// creates itself (kube-system, kube-public, kube-node-lease): the
// controller making them is not part of readiness, and node leases need
// kube-node-lease.
func (s *Server) waitReady(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	systemNamespaces := []string{metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}
	for {
		for _, p := range []*process{s.etcd, s.apiserver} {
			if p.exited() {
				err := p.exitError()
				if strings.Contains(err.Error(), "address already in use") {
					return fmt.Errorf("%w: %w", errPortTaken, err)
				}
				return err
			}
		}
		lastErr = s.ready(ctx, systemNamespaces)
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubeapi: not ready: %w (last: %v); end of %s:\n%s",
				ctx.Err(), lastErr, s.apiserver.log, tail(s.apiserver.log, 4096))
		case <-tick.C:
		}
	}
}

func (s *Server) ready(ctx context.Context, namespaces []string) error {
	if _, err := s.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return fmt.Errorf("readyz: %w", err)
	}
	for _, ns := range namespaces {
		if _, err := s.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %s not created yet", ns)
			}
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	return nil
}

// URL is the apiserver's address, https://127.0.0.1:<port>.
func (s *Server) URL() string { return s.url }

// RESTConfig returns a new configuration for the admin user (group
// system:masters); the caller may change it.
func (s *Server) RESTConfig() *rest.Config { return rest.CopyConfig(s.config) }

// Client is a clientset for the admin user.
func (s *Server) Client() kubernetes.Interface { return s.client }

// Stop ends both processes and removes the server's directory. It may be
// called more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.stopProcesses()
		if err := os.RemoveAll(s.dir); err != nil {
			klog.ErrorS(err, "kubeapi: removing", "dir", s.dir)
		}
	})
}

// stopProcesses ends the apiserver before etcd, so that it does not spend
// its shutdown retrying a storage that is gone.
func (s *Server) stopProcesses() {
	if s.apiserver != nil {
		s.apiserver.stop(15 * time.Second)
	}
	if s.etcd != nil {
		s.etcd.stop(5 * time.Second)
	}
}

// freePorts returns n distinct loopback ports nobody listens on now. They
// are only likely to stay free until bound, hence startAttempts.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("kubeapi: free port: %w", err)
		}
		defer l.Close() // held until all are chosen, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
