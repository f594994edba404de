package boards

// The data partition is formatted and repaired on the device with the real
// e2fsprogs (mke2fs, e2fsck) rather than a filesystem writer of our own: they
// are what every other Linux uses to make and check ext4, journal included.
// They are dynamically linked, so the C library and loader come along; the
// whole set is about 2.5 MB.

const (
	e2fsVersion  = "1.47.0-2+b2"
	utilLinuxVer = "2.38.1-5+deb12u3"
	glibcVersion = "2.36-9+deb12u14"
	arm64Triplet = "aarch64-linux-gnu"
	armhfTriplet = "arm-linux-gnueabihf"
)

// e2fsSums holds the sha256 of each userland package, per Debian arch.
type e2fsSums struct {
	e2fsprogs, libext2fs2, libcomerr2, libblkid1, libuuid1, libc6 string
}

func e2fsprogsArm64() []Files {
	return e2fsprogsFiles("arm64", arm64Triplet, "ld-linux-aarch64.so.1", e2fsSums{
		e2fsprogs:  "9842c31d32c897e3414168c4fab34cddd1633adacbc7858896e7a797d1be1b24",
		libext2fs2: "c1d2551a6238d6a1c64601a0d68183573ca2b5dbd213068d50eaa0747ac1b406",
		libcomerr2: "36c15f933a965b50f4c9558d792d9556934c84e532703935d8ae7e69dd3fa863",
		libblkid1:  "6c462ce69d08f1ddaa9a77bbdad4af8e289267095599eb8e92a9ab3ea21cdc41",
		libuuid1:   "3b2d19df0f3190108cf54228c4cfc822226c06d8f3615a5ab16a7dffb1f58aed",
		libc6:      "01f4330719fd4f65580e16ea5a0527f372fca750e8f588d26deaf09f2d3b1cf4",
	})
}

func e2fsprogsArmhf() []Files {
	return e2fsprogsFiles("armhf", armhfTriplet, "ld-linux-armhf.so.3", e2fsSums{
		e2fsprogs:  "db64f24e6993f53cfc43331b1530e665bcae36b186c8ab064fe32c12be8d4a47",
		libext2fs2: "45422617cf3cf2279137448657de09a5f8eb0d750a1d29361e09134ec61cf986",
		libcomerr2: "dc81ddc4e62a2c9a702eac7937aeda9b7e60e852644d18f5afc0290517992d33",
		libblkid1:  "f239a932f91b986461688fe46275cb951130a2685375b3c332b779d01f87467d",
		libuuid1:   "8e7bdaf72a70a29520cae0d3da81ab814a6954b17dedd33d68b7eebcdc9de56c",
		libc6:      "758c68b92654747025b48476a45c315bf16df1321224abdd9be672bfd120be45",
	})
}

func e2fsprogsFiles(arch, triplet, loader string, sum e2fsSums) []Files {
	lib := "lib/" + triplet + "/"
	usrlib := "usr/lib/" + triplet + "/"
	pkg := func(name, version, sha string) Package {
		return Package{Name: name, Version: version, Arch: arch, SHA256: sha}
	}
	return []Files{
		{From: pkg("e2fsprogs", e2fsVersion, sum.e2fsprogs),
			Paths: []string{"sbin/mke2fs", "sbin/e2fsck", "sbin/resize2fs", "etc/mke2fs.conf"}},
		{From: pkg("libext2fs2", e2fsVersion, sum.libext2fs2),
			Paths: []string{lib + "libext2fs.so.2*", lib + "libe2p.so.2*"}},
		{From: pkg("libcom-err2", e2fsVersion, sum.libcomerr2),
			Paths: []string{lib + "libcom_err.so.2*"}},
		{From: pkg("libblkid1", utilLinuxVer, sum.libblkid1),
			Paths: []string{usrlib + "libblkid.so.1*"}},
		{From: pkg("libuuid1", utilLinuxVer, sum.libuuid1),
			Paths: []string{usrlib + "libuuid.so.1*"}},
		{From: pkg("libc6", glibcVersion, sum.libc6),
			Paths: []string{"lib/" + loader, lib + loader, lib + "libc.so.6"}},
	}
}
