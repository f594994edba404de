# edgegate: `make run` builds the default image and boots it under QEMU;
# `make test` runs every test, QEMU boots included. Both install what they
# need first (apt packages, foreign architectures for the kernel packages).

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
GO ?= go
BOARD ?= qemu-arm64
OUT ?= out
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# The image's timestamps and its build number (updates are ordered by it)
# come from the last commit: the same commit builds the same bytes.
EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
EDGEGATE_CACHE ?= $(HOME)/.cache/edgegate
export EDGEGATE_CACHE

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Host packages: QEMU, the tools the tests use to check our images with
# independent implementations (sfdisk, fsck.vfat, mtools, cpio, mkimage,
# e2fsck/debugfs), and the cross compilers and libseccomp runc is built with
# (also the host's own, for the runc of edged's host tests).
HOST_DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
APT_PACKAGES := qemu-system-arm dosfstools fdisk mtools cpio u-boot-tools e2fsprogs \
	iproute2 gcc dpkg-dev ca-certificates pkg-config docker-registry \
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross \
	libseccomp-dev:arm64 libseccomp-dev:armhf libseccomp-dev:$(HOST_DEB_ARCH) \
	erofs-utils cryptsetup-bin
FOREIGN_ARCHES := arm64 armhf
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all deps edgegate image run test test-unit test-system lint bench clean

all: edgegate

# deps installs host packages and adds the foreign architectures whose
# kernel and userland packages the boards pin. Idempotent: it does nothing
# when everything is there. apt-get update may fail on one foreign index
# mid-sync while the packages needed download fine, so its exit status is
# not trusted; the pinned sha256 of every package is what counts.
deps:
	@missing=""; \
	for a in $(FOREIGN_ARCHES); do \
	  dpkg --print-foreign-architectures | grep -qx $$a || { $(SUDO) dpkg --add-architecture $$a; missing=1; }; \
	done; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] || ! apt-cache show linux-image-6.1.0-50-armmp-lpae:armhf >/dev/null 2>&1; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) apt-get update -q || echo "deps: apt-get update reported errors; going on"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_PACKAGES); \
	fi

edgegate:
	@mkdir -p $(OUT)
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(OUT)/edgegate ./cmd/edgegate

image: deps edgegate
	rm -f $(OUT)/$(BOARD).img
	$(OUT)/edgegate build --board $(BOARD) --version $(VERSION) $(if $(EPOCH),--epoch $(EPOCH)) -o $(OUT)/$(BOARD).img

# run boots the image with the console on this terminal (leave with
# Ctrl-A X). UNTIL='edgegate: ready' exits once the console shows it.
run: image
	cp --sparse=always $(OUT)/$(BOARD).img $(OUT)/$(BOARD)-run.img
	$(OUT)/edgegate qemu --image $(OUT)/$(BOARD)-run.img $(if $(UNTIL),--until '$(UNTIL)' --timeout 3m)

test: deps test-unit test-system

# Fast tests with the race detector; QEMU boots and long waits skip under -short.
test-unit:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-formatted: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -short -timeout 15m ./...

# Whole images, QEMU boots of every emulated board and both boot paths,
# the end-to-end tests against a real kube-apiserver, the long
# cloud-outage test, and the bus's million round trips (test-unit runs
# 50 000 of them under the race detector). The apiserver and etcd are built (once per machine,
# minutes) and checked first, before anything competes for the cores.
test-system:
	$(GO) test -count=1 -timeout 30m ./edgecore/kubeapi/
	$(GO) test -count=1 -timeout 5m -run '^TestNoLostReplies$$' ./edgecore/bus/
	$(GO) test -count=1 -timeout 75m ./edgecore/testcloud/ ./edgecore/edged/... ./edgecore/containerd/... ./edgecore/internal/hostctrd/ ./cmd/edgecore/ ./image/ ./image/ctrdbuild/ ./qemu/... ./cmd/edgegate/ ./edgecore/internal/e2e/...

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

bench: deps
	@mkdir -p $(OUT)/bench
	$(GO) test -run '^$$' -bench . -benchmem -timeout 20m $$($(GO) list ./edgecore/... ./init/... | grep -v -e /internal/e2e -e /internal/hostrt) | tee $(OUT)/bench/unit.txt
	$(GO) test -run '^$$' -bench 'CloudToAck|ExecToConnected' -benchtime 200x ./edgecore/internal/e2e | tee $(OUT)/bench/e2e.txt
	$(GO) test -run '^$$' -bench 'ExecToNode' -benchtime 20x ./edgecore/internal/e2e | tee $(OUT)/bench/e2e-node.txt
	$(GO) test -run '^$$' -bench 'IdleFootprint|IdleNodeTraffic' -benchtime 1x ./edgecore/internal/e2e | tee $(OUT)/bench/e2e-idle.txt
	$(GO) test -run '^$$' -bench 'BenchmarkBoot|BenchmarkImage|BenchmarkContainerd|BenchmarkRootVerity' -benchtime 5x -timeout 40m ./qemu/ | tee $(OUT)/bench/qemu.txt
	$(GO) test -run '^$$' -bench 'BenchmarkInit' -benchtime 1x -timeout 20m ./qemu/ | tee $(OUT)/bench/qemu-init.txt
	$(GO) test -run '^$$' -bench 'BenchmarkGateway' -benchtime 5x -timeout 60m ./qemu/ | tee $(OUT)/bench/qemu-gateway.txt
	$(GO) test -run '^$$' -bench 'BenchmarkPodStart|BenchmarkMaxPods' -benchtime 1x -timeout 60m ./qemu/ | tee $(OUT)/bench/qemu-pods.txt
	$(GO) test -run '^$$' -bench 'BenchmarkOTAUpdate' -benchtime 3x -timeout 30m ./qemu/ | tee $(OUT)/bench/qemu-ota.txt
	$(GO) test -run '^$$' -bench 'BenchmarkPodStartHost' -benchtime 1x -timeout 40m ./edgecore/edged/internal/hostrt/ | tee $(OUT)/bench/host-pods.txt
	$(GO) test -run '^$$' -bench 'BinarySize' -benchtime 1x ./cmd/edgecore | tee $(OUT)/bench/size.txt
	$(GO) test -run '^$$' -bench 'BenchmarkFlash' -benchtime 5x ./image/flash/ | tee $(OUT)/bench/flash.txt
	$(GO) run ./cmd/benchreport -o BENCHMARKS.md $(OUT)/bench/qemu.txt $(OUT)/bench/qemu-init.txt $(OUT)/bench/qemu-gateway.txt $(OUT)/bench/qemu-pods.txt $(OUT)/bench/qemu-ota.txt $(OUT)/bench/host-pods.txt \
		$(OUT)/bench/unit.txt $(OUT)/bench/e2e.txt $(OUT)/bench/e2e-node.txt $(OUT)/bench/e2e-idle.txt $(OUT)/bench/size.txt $(OUT)/bench/flash.txt
	@echo "wrote BENCHMARKS.md"

clean:
	rm -rf $(OUT)
