package boards

// The QEMU boards emulate the generic `virt` machine. They are the boards
// every test boots, and they share the Debian bookworm packages below with
// the real boards of the same architecture.

// uBootQEMU carries U-Boot builds for QEMU's virt machines (qemu_arm64,
// qemu_arm). QEMU runs it as -bios for whole-disk boots.
var uBootQEMU = Package{
	Name: "u-boot-qemu", Version: "2023.01+dfsg-2+deb12u3", Arch: "all",
	SHA256: "02a14f0876b76c0d7d7934e9b83a77515c5bdbad1e00af84c445bfeb1e6b8665",
}

// virtMachine turns ACPI off: with firmware loaded QEMU would otherwise
// route system_powerdown to an ACPI event device, which a kernel booted
// with a device tree (as U-Boot boots it) never sees. With ACPI off the
// power button is a gpio-keys KEY_POWER on both boot paths.
const virtMachine = "virt,acpi=off"

// slotModules reach a slot's root image from the initramfs on QEMU's
// virt machine: its disk (-drive if=virtio is virtio-blk-pci), the slot's
// FAT, a loop device over the image file, dm-verity and erofs. vfat needs
// its codepage and iocharset modules loaded explicitly: with no modprobe
// in the image, the kernel's request_module has nothing to call. The
// boards list their CPU's SHA-256 module too, for dm-verity's hashing.
var slotModules = []Module{
	{Name: "virtio_pci", Required: true},
	{Name: "virtio_blk", Required: true},
	{Name: "vfat", Required: true},
	{Name: "nls_cp437", Required: true},
	{Name: "nls_ascii", Required: true},
	{Name: "loop", Required: true},
	{Name: "dm_verity", Required: true},
	{Name: "erofs", Required: true},
}

// virtioNetModules drive the network of QEMU's virt machine:
// virtio-net-device is mmio.
var virtioNetModules = []Module{
	{Name: "virtio_mmio", Required: true},
	{Name: "virtio_net"},
}

// storageModules are the filesystems every board mounts from the root:
// ext4 for the data partition (vfat, for the boot partition, came with
// the initramfs).
var storageModules = []Module{
	{Name: "ext4", Required: true},
}

// powerKeyModules deliver QEMU's system_powerdown: virt wires a power key
// to gpio-keys, which reports KEY_POWER through evdev. Built in on some
// kernels; the resolver skips built-in modules.
var powerKeyModules = []Module{
	{Name: "gpio_keys"},
	{Name: "evdev"},
}

// watchdogModules give QEMU guests a /dev/watchdog that init feeds: the
// software watchdog resets the machine when init stops feeding it, which
// is what a hardware one does on a board (armhf's kernel has no i6300esb
// driver, so both QEMU boards use softdog).
var watchdogModules = []Module{
	{Name: "softdog"},
}

// firewallModules are init's packet filter's (init/firewall): nftables,
// with its inet family, sets and counters built in, and conntrack
// matching, which accepts the replies to what the gateway sends.
var firewallModules = []Module{
	{Name: "nf_tables"},
	{Name: "nft_ct"},
}

// containerModules are what containerd and its containers need from the
// kernel besides firewallModules: overlay for the snapshotter (loaded
// before containerd starts: the snapshotter checks for it when it
// initialises), bridge and veth for the CNI bridge, nftables NAT so
// containers reach what the gateway reaches and nothing reaches them
// unasked, and DNAT with local-address matching for the pods' host ports.
// Real boards on the same Debian kernels need the same list.
var containerModules = []Module{
	{Name: "overlay"},
	{Name: "bridge"},
	{Name: "veth"},
	{Name: "nft_chain_nat"},
	{Name: "nft_masq"},
	{Name: "nft_nat"},
	{Name: "nft_fib_ipv4"},
	{Name: "nf_conntrack_netlink"}, // clearing UDP conntrack entries of new host ports
}

func modules(lists ...[]Module) []Module {
	var ms []Module
	for _, l := range lists {
		ms = append(ms, l...)
	}
	return ms
}

// qemuLayout sizes the QEMU boards' disks. A slot holds the kernel, the
// initramfs and the root image with the container runtime and edgecore
// (arm64: 31 + 1 + about 50 MiB), with room for an update that grows.
var qemuLayout = Layout{BootMiB: 64, SlotMiB: 192, DataMiB: 64}

// QEMUArm64 is QEMU's virt machine with a Cortex-A57 and Debian's arm64 kernel.
func QEMUArm64() Board {
	return Board{
		Name:        "qemu-arm64",
		Description: "QEMU virt, Cortex-A57, Debian bookworm arm64 kernel",
		Arch:        ARM64,
		Kernel: Package{
			Name: "linux-image-6.1.0-50-arm64", Version: "6.1.176-1", Arch: "arm64",
			SHA256: "914f75b57a8e165d85fb910c3e2dcc7000a05a9fea3f42f90b26e8dd590d5f06",
		},
		KernelRelease: "6.1.0-50-arm64",
		KernelPath:    "boot/vmlinuz-6.1.0-50-arm64",
		KernelFile:    "Image",
		BootCmd:       "booti",
		Bootloader:    uBootQEMU,
		Console:       "ttyAMA0",
		Disk:          "vda",
		Net:           "eth0",
		// sha2-ce: the Cortex-A57's SHA-256 instructions.
		InitramfsModules: modules(slotModules, []Module{{Name: "sha2_ce"}}),
		Modules:          modules(virtioNetModules, storageModules, powerKeyModules, watchdogModules, firewallModules, containerModules),
		Userland:         e2fsprogsArm64(),
		Layout:           qemuLayout,
		Emulation: &Emulation{
			Binary: "qemu-system-aarch64", Machine: virtMachine, CPU: "cortex-a57",
			MemoryMiB: 512, CPUs: 1,
			BIOS:      "usr/lib/u-boot/qemu_arm64/u-boot.bin",
			NetDevice: "virtio-net-device",
		},
	}
}

// QEMUArmv7 is QEMU's virt machine with a Cortex-A15 and Debian's armmp-lpae
// kernel. The LPAE kernel is the one whose PCI host probes on plain virt.
func QEMUArmv7() Board {
	return Board{
		Name:        "qemu-armv7",
		Description: "QEMU virt, Cortex-A15, Debian bookworm armmp-lpae kernel",
		Arch:        ARMv7,
		Kernel: Package{
			Name: "linux-image-6.1.0-50-armmp-lpae", Version: "6.1.176-1", Arch: "armhf",
			SHA256: "7a1a2b179324d910db6415d67b73c7495a58d239f61103d9cf2b79a11b7ece3e",
		},
		KernelRelease: "6.1.0-50-armmp-lpae",
		KernelPath:    "boot/vmlinuz-6.1.0-50-armmp-lpae",
		KernelFile:    "zImage",
		BootCmd:       "bootz",
		Bootloader:    uBootQEMU,
		Console:       "ttyAMA0",
		Disk:          "vda",
		Net:           "eth0",
		// The Cortex-A15 has no SHA-256 instructions: the NEON one.
		InitramfsModules: modules(slotModules, []Module{{Name: "sha256_arm"}}),
		Modules:          modules(virtioNetModules, storageModules, powerKeyModules, watchdogModules, firewallModules, containerModules),
		Userland:         e2fsprogsArmhf(),
		// ext4's crc32c soft dependency also pulls in the ARMv8 CRC
		// driver, which a Cortex-A15 cannot run (ENODEV).
		ExcludeModules: []string{"crc32_arm_ce"},
		Layout:         qemuLayout,
		Emulation: &Emulation{
			Binary: "qemu-system-arm", Machine: virtMachine, CPU: "cortex-a15",
			MemoryMiB: 512, CPUs: 1,
			BIOS:      "usr/lib/u-boot/qemu_arm/u-boot.bin",
			NetDevice: "virtio-net-device",
		},
	}
}
