package kubeapi

import (
	"fmt"
	"path/filepath"
	"runtime"
)

// etcdArgs run a one-member etcd on loopback, tuned for tests: no fsync
// (the data dies with the test) and a small quota, so a runaway test fills
// it instead of the disk.
func etcdArgs(dataDir string, clientPort, peerPort int) []string {
	client := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	return []string{
		"--name=kubeapi",
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		// A peer listener is required even for one member; loopback and
		// a port of its own keep parallel servers apart.
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=kubeapi=" + peer,
		"--unsafe-no-fsync",
		"--quota-backend-bytes=268435456", // 256 MiB
		"--log-level=warn",
	}
}

// apiserverArgs configure kube-apiserver as kubeadm would for a one-node
// control plane, on loopback, minus what costs start time or memory and
// changes no API semantics. The default admission plugins stay on: what
// they refuse is part of what the tests are about.
func apiserverArgs(dir string, certs *pki, etcdPort, securePort int) []string {
	return []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", securePort),
		// Never used with the files below, but the default is under /var/run.
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + certs.servingCertFile,
		"--tls-private-key-file=" + certs.servingKeyFile,
		"--client-ca-file=" + certs.caFile,
		"--service-account-issuer=" + ServiceAccountIssuer,
		"--service-account-key-file=" + certs.saPubFile,
		"--service-account-signing-key-file=" + certs.saKeyFile,
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		// The admin is in system:masters, which passes any authorizer;
		// RBAC as in a real cluster lets tests act as a less privileged
		// user through impersonation.
		"--authorization-mode=Node,RBAC",
		// As kubeadm: edge workloads (CNI, device plugins) run privileged.
		"--allow-privileged=true",
		// Priority and fairness is a queueing layer for overload; it costs
		// start time and goroutines, and tests never overload.
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		// The endpoints of the "kubernetes" Service would be the advertise
		// address, and Endpoints validation refuses loopback ones: the
		// reconciler would log a refusal every 10 s. Nothing here reaches
		// the apiserver through the Service.
		"--endpoint-reconciler-type=none",
	}
}

// etcdEnv lets etcd 3.5 run where it is not tested upstream (it exits
// otherwise), and only there: on the supported architectures it warns
// about the variable.
func etcdEnv() []string {
	switch runtime.GOARCH {
	case "amd64", "arm64", "ppc64le", "s390x":
		return nil
	}
	return []string{"ETCD_UNSUPPORTED_ARCH=" + runtime.GOARCH}
}
