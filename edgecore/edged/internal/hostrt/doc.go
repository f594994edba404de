// Package hostrt runs the repository's own container runtime on the host
// for the tests and the benchmark of edged against a real containerd: the
// multi-call edgegate-containerd binary (daemon and shim), runc and the
// CNI plugins that image/ctrdbuild builds for this machine's architecture,
// with the daemon configuration and the CNI network the gateway's init
// writes (init/containerd).
//
// Nothing of the host's network or /run is touched. A test binary whose
// TestMain calls Main builds the runtime and lays it out with
// edgecore/internal/hostctrd (which other packages' tests use to run a
// daemon without namespaces of their own), then runs itself again in a
// child with a mount and a network namespace of its own: the child makes
// its mounts private, mounts a tmpfs on /run (containerd's state, the
// shims' sockets under /run/containerd/s, the pods' network namespaces and
// the CNI configuration are all where a gateway has them), brings up its
// loopback and starts the daemon (hostctrd.Start) with its root in a
// temporary directory.
// The pods' bridge (edge0, 10.88.0.0/16) and nftables tables exist in that
// namespace only. Cgroups are the one shared resource: the kernel has one
// hierarchy, so containers get their cgroups under /edgegate there as on a
// gateway, and the empty ones are removed when the child ends.
//
// The host's cgroup hierarchy may be v1 (development VMs, CI) while the
// gateway's is v2; edged and runc handle both. Tests skip, saying why,
// under -short, without root, or when a prerequisite (a C compiler and
// libseccomp-dev for runc, overlayfs, a memory cgroup controller) is
// missing.
//
// The package is internal to edged because only edged's tests use it; it
// is not in edgecore/internal/e2e, which drives the edgecore binary
// against the test cloud and needs no container runtime.
package hostrt
