// Package registry gives tests a real OCI registry and images to put in it.
//
// The QEMU tests boot gateway images whose edgecore pulls container images
// through containerd's client, so they need the genuine article rather
// than a fake: Start runs Debian's docker-registry (distribution 2.8) on
// the host's loopback, optionally behind htpasswd basic auth, for the life
// of a test. A QEMU guest on user networking reaches it at 10.0.2.2:Port().
//
// BuildImage makes a small multi-arch OCI image (one static binary per
// platform) with deterministic bytes, Push uploads it through the
// distribution HTTP API, and BuildPodapp compiles the test payload
// qemu/testdata/podapp for a guest CPU.
package registry
