// Package hostctrd runs edgegate's own containerd on this machine for the
// tests that need a real one: the multi-call edgegate-containerd binary,
// runc and the CNI plugins that image/ctrdbuild builds for the host's
// architecture (cached with the image builds' runtimes), started as root
// with the configuration the gateway's init writes (init/containerd).
//
// Build builds the runtime once per test binary; LayOut puts it into a
// directory of the test's as hard links or copies, never links into the
// cache, which drops an older entry when a newer build lands while a test
// still runs its shims. Start runs a daemon, optionally with its root on a
// tmpfs of a given size that only its own mount namespace has, and waits
// until it answers; Stop ends it. RuntimeForTest and StartForTest do the
// same for a test, skipping it, saying why, under -short, without root or
// where the machine cannot build the runtime (no C compiler or
// libseccomp-dev for runc).
//
// Namespaces of the test binary's own are edged's host runtime's concern
// (edgecore/edged/internal/hostrt), which starts its daemon with this
// package.
package hostctrd
