package main

// notes say what each package's figures mean. Everything they describe is
// measured in the run that writes the report.
var notes = map[string]string{
	"qemu": "`Boot/<board>/floor` is QEMU start → the first line of a trivial init on the same kernel (the floor). " +
		"`direct` boots the image's kernel and initramfs with -kernel/-initrd; `u-boot` boots the whole disk through U-Boot " +
		"(the real boot path, including U-Boot's default 2 s autoboot delay). Both end at `edgegate: ready`, after modules, devices and the data partition, " +
		"on the image without the container runtime. `Containerd` boots the image with it: QEMU start → containerd healthy, and container create → first output; the timeline of its median boot (init's boot timeline: each step's start and duration, from the kernel's start) is the table after the results. " +
		"`Gateway` boots the gateway `edgegate build` makes with a cloud to join (containerd, edgecore with edged, no pods) again after its first boot joined the test cloud on the host (through QEMU's 10.0.2.2): QEMU start → edgecore connected to the cloud, and the gateway's used memory (MemTotal − MemAvailable) 60 s after the ready line, idle. " +
		"`Image/<board>` builds the image with packages cached (without the runtime; `ContainerdImage` with it): image-MiB is the partitioned size, nonzero-MiB what a flash or a compressed download carries; " +
		"slot-MiB is what slot A holds (kernel, initramfs, root image), slot-gzip9-MiB and slot-xz9-MiB its partition compressed with gzip -9 and xz -9 ( the target is at most 30 MiB on arm64 with the runtime), root-MiB the root image with its hash tree. " +
		"`RootVerity` boots the image with containerd: root-mount-s is the initramfs mounting the root (loop, dm-verity, erofs, reading init whole), read-at-boot-MiB what the boot read through dm-verity until every step ended, " +
		"loop-MiBps and verity-MiBps reading the root past the page cache straight from its loop device and through dm-verity, verity-boot-cost-s what dm-verity adds to the boot (the boot's reads at the one rate less the other; the bound for keeping it is 0.3 s on arm64), " +
		"sha256-image-s the alternative (reading the root image whole and hashing it before mounting it), check-s init's check of every block after the boot, at idle priority. " +
		"`InitExecToServices` is init exec → every configured service started (containerd's own start excluded); `InitRSS` is init's resident memory 60 s after boot. " +
		"`PodStart` runs 20 pods one after another on an arm64 gateway (512 MiB, TCG) with the image present: pod created in the API server → the cloud sees its container running " +
		"(p50, p90), next to the floor of the same path, created → the edge acknowledged the pod; " +
		"and edgecore's resident memory idle and with 10 and 20 pods, and one container shim's memory with 20 pods (resident, and proportional: what one more pod costs, since the shims share one binary). `MaxPods` fills a 1 GiB arm64 gateway with pods ten at a time until a batch does not run. " +
		"`OTAUpdate` updates an arm64 gateway (the image without the runtime, with the update service) from one build to the next over QEMU's loopback forward: " +
		"update-s is push → the new slot committed after its trial boot, push-s the part until the gateway replied (bundle streamed into the other slot, read back and armed), medians of the runs; " +
		"wire-MiB is the bundle the push carried (signed manifest and zstd slot image), slot-MiB the slot image written, wire-% the one over the other.",
	"cmd/edgecore": "`BinarySize` is edgecore as the images carry it (static, stripped, the image's build tags), for each board architecture. " +
		"Before edged it was 8.5 MiB; the target is at most twice that. `TestBinarySize` fails the arm64 build past its budget.",
	"edgecore/bus": "Send+Receive, SendSync round trips and SendToGroup on the in-process bus. The target is at least twice as fast as beehive on each.",
	"edgecore/edged/internal/hostrt": "`PodStartHost` runs edged on this machine against the repository's own containerd, runc and CNI plugins (built for its architecture, " +
		"in a mount and network namespace of their own, with the host's cgroup hierarchy, which may be v1 where a gateway's is v2): 20 pods of one container one after another, image present, " +
		"bind message received by edged → a status patch with every container running leaves edged (start p50, p90; the target is 0.5 s), " +
		"next to the floor of the same run, the same container created and started through containerd's client without edged (no pod network, volumes or status).",
	"edgecore/internal/e2e": "The real `cmd/edgecore` binary against the test cloud on loopback (TLS, client certificates). " +
		"CloudToAck sends one message at a time and waits for its ack (msgs/s is 1/latency); with KubeEdge's default write limit (30/s, burst 60) the limit dominates. " +
		"The test cloud behind these applies the edge's requests to a real kube-apiserver v1.32.13 and etcd 3.5.16, as cloudcore's edgecontroller does. " +
		"`ExecToNode`: exec of a node joining for the first time (token, certificate, registration) → the Node object in the apiserver and → Ready, medians. " +
		"`IdleNodeTraffic`: an idle registered node per hour, from 60 s with the kubelet timers 10× KubeEdge's defaults (keepalives at the default 15 s).",
	"edgecore/metamanager": "bbolt with fsync on every committed transaction; Batched commits 100 rows per transaction (figures per row).",
	"image/flash": "`Flash` is `edgegate flash` writing a 64 MiB image (two thirds random, a third zeros) to a loop device over a file that holds other bytes (so no zero run can be skipped), " +
		"and in the same run `dd bs=4M conv=fsync` of the same image to the same device. MB/s and ns/op are the whole flash (checks, O_DIRECT writes, sync, read-back from the medium and sha256), " +
		"write-MBps the writing and sync alone, dd-MBps dd's; flash/dd and write/dd are the throughputs over dd's (above 1: faster than dd). " +
		"dd writes into the page cache and lets the kernel write back in parallel, which on a RAM-cached loop device beats synchronous O_DIRECT writes; on a card the card's write speed bounds both.",
}

// reference is a figure the report quotes but does not measure: upstream's
// behaviour, taken once, written with where it comes from so that no reader
// mistakes it for a figure of this run.
type reference struct {
	text   string
	source string
}

// references are the upstream figures each package is judged against.
var references = map[string][]reference{
	"qemu": {{
		text:   "upstream edgecore v1.23.1 (fake CRI) against a stock cloudcore v1.23.1: a pod created → Running with all conditions True at about 1.5 s, first status patch 0.67 s.",
		source: "KubeEdge wire notes §16, medians of 5 runs on a 2-core machine like this one (2026-11)",
	}},
	"edgecore/bus": {{
		text: "KubeEdge's beehive v1.21: Send+Receive about 330 ns/op with 0 allocations, SendSync round trip about 4 µs with 13 allocations, " +
			"SendToGroup to 3 modules about 3 µs.",
		source: "beehive's channel context measured once on a 2-vCPU machine of this kind when the bus was designed; not re-measured by make bench, which never builds upstream code",
	}},
	"edgecore/internal/e2e": {
		{
			text:   "upstream edgecore v1.23.1: a 96–101 MB binary idling at 89–119 MiB RSS (anon 21–26 MiB) 60 s after connect; exec → connected 0.83 s, → Node object 1.47 s, → Ready 1.74 s.",
			source: "KubeEdge wire notes §16, upstream edgecore v1.23.1 against a stock cloudcore v1.23.1 on kube-apiserver v1.32.13, medians of 5 runs (2026-11)",
		},
		{
			text:   "an idle upstream node writes 360 lease renewals + 12 status reports = 372 apiserver writes per hour.",
			source: "KubeEdge's defaults (nodeStatusUpdateFrequency 10 s lease, 5 min status report), KubeEdge wire notes §16",
		},
	},
}
