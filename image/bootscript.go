package image

import (
	"bytes"
	"fmt"
	"text/template"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/ubootscr"
	"github.com/edgegate/edgegate/init/slotstate"
)

// bootScript is the U-Boot script on the boot partition. It reads the two
// copies of the slot state record (init/slotstate) from the sectors before
// the first partition, takes the valid one with the highest sequence,
// counts a try of a slot on trial (or, with none left, records that the
// trial failed) in a new record written over the other copy before it
// boots anything, then boots the chosen slot's kernel and initramfs.
// U-Boot's distro_boot sets devtype, devnum and distro_bootpart and
// selects the device before running it, so `${devtype} read/write` reach
// the boot disk (virtio under QEMU, mmc on a board).
//
// Everything is done with commands Debian's U-Boot builds have: the record
// is 32-bit little-endian words (itest.l and setexpr.l read them, mw.l
// changes them) and crc32 computes the checksum into memory, where itest
// compares it with the stored one. The records are read into the kernel's
// load address, which the kernel overwrites only later.
var bootScript = template.Must(template.New("boot.cmd").Parse(`# edgegate boot script for {{.Board}}
setexpr ss0 ${kernel_addr_r} + 0
setexpr ss1 ${kernel_addr_r} + 0x200
setexpr ssn ${kernel_addr_r} + 0x400
setexpr ssc ${kernel_addr_r} + 0x600
setenv sscheck 'setenv ok 0; if ${devtype} read ${r} ${lba} 1 && itest.l *${r} == {{.Magic}}; then setexpr f ${r} + 4; if itest.l *${f} == {{.Version}}; then crc32 ${r} {{.CRCOff}} ${ssc}; setexpr f ${r} + {{.CRCOff}}; if itest.l *${f} == *${ssc}; then setenv ok 1; fi; fi; fi'
setenv r ${ss0}; setenv lba {{.LBA0}}; run sscheck; setenv ok0 ${ok}
setenv r ${ss1}; setenv lba {{.LBA1}}; run sscheck; setenv ok1 ${ok}
setenv cur none
if test ${ok0} = 1; then setenv cur 0; else echo "edgegate: slot state copy 0 is corrupt, ignored"; fi
if test ${ok1} = 1; then
  setexpr q0 ${ss0} + 8; setexpr q1 ${ss1} + 8
  if test ${cur} = none; then setenv cur 1; elif itest.l *${q1} > *${q0}; then setenv cur 1; fi
else
  echo "edgegate: slot state copy 1 is corrupt, ignored"
fi
setenv slot a
if test ${cur} = none; then
  echo "edgegate: slot state unreadable (both copies corrupt): booting slot a as built"
else
  if test ${cur} = 0; then cp.b ${ss0} ${ssn} 0x200; setenv wlba {{.LBA1}}; else cp.b ${ss1} ${ssn} 0x200; setenv wlba {{.LBA0}}; fi
  setexpr fq ${ssn} + 8; setexpr fa ${ssn} + 0xc; setexpr ft ${ssn} + 0x10; setexpr fn ${ssn} + 0x14
  setexpr fe ${ssn} + 0x18; setexpr fs ${ssn} + 0x1c; setexpr fc ${ssn} + {{.CRCOff}}
  if itest.l *${fa} == 0x62; then setenv slot b; fi
  setenv committed ${slot}
  if itest.l *${ft} != 0; then
    if itest.l *${ft} == 0x62; then setenv tslot b; else setenv tslot a; fi
    setexpr.l t *${ft}; mw.l ${fs} ${t}
    if itest.l *${fn} > 0; then
      setexpr.l n *${fn} - 1; mw.l ${fn} ${n}; mw.l ${fe} {{.Tried}}
      setenv slot ${tslot}
      echo "edgegate: trial boot of slot ${tslot} (committed: slot ${committed}), ${n} tries left after this one"
    else
      mw.l ${ft} 0; mw.l ${fe} {{.FellBack}}
      echo "edgegate: slot ${tslot} failed its trial: falling back to slot ${committed}"
    fi
    setexpr.l q *${fq} + 1; mw.l ${fq} ${q}
    crc32 ${ssn} {{.CRCOff}} ${fc}
    if ${devtype} write ${ssn} ${wlba} 1; then
      echo "edgegate: slot state seq ${q} written"
    else
      setenv slot ${committed}
      echo "edgegate: cannot write the slot state: booting committed slot ${slot}"
    fi
  fi
fi
if test "${slot}" = "b"; then setenv part 3; else setenv part 2; fi
echo "edgegate: booting slot ${slot} from partition ${part}"
setenv bootargs "{{.Bootargs}} edgegate.slot=${slot}"
load ${devtype} ${devnum}:${part} ${kernel_addr_r} {{.KernelFile}}
load ${devtype} ${devnum}:${part} ${ramdisk_addr_r} initrd
{{.BootCmd}} ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr}
`))

// Bootargs is the kernel command line every boot path uses; the slot is
// appended by whoever starts the kernel. panic=5 reboots a kernel that
// panics, so a broken trial slot falls back instead of hanging.
func Bootargs(b boards.Board) string {
	return "console=" + b.Console + " panic=5 quiet loglevel=4"
}

func renderBootScript(b boards.Board) (string, error) {
	var buf bytes.Buffer
	err := bootScript.Execute(&buf, map[string]string{
		"Board": b.Name, "Bootargs": Bootargs(b), "KernelFile": b.KernelFile, "BootCmd": b.BootCmd,
		"Magic": fmt.Sprintf("%#x", slotstate.Magic), "Version": fmt.Sprint(slotstate.Version),
		"CRCOff": fmt.Sprintf("%#x", slotstate.OffCRC),
		"LBA0":   fmt.Sprintf("%#x", slotstate.Copies[0]), "LBA1": fmt.Sprintf("%#x", slotstate.Copies[1]),
		"Tried": fmt.Sprintf("%#x", uint32(slotstate.Tried)), "FellBack": fmt.Sprintf("%#x", uint32(slotstate.FellBack)),
	})
	return buf.String(), err
}

// BootScript returns b's boot script: its source and its boot.scr image.
func BootScript(b boards.Board, epoch int64) (script string, scr []byte, err error) {
	if script, err = renderBootScript(b); err != nil {
		return "", nil, err
	}
	arch := ubootscr.ARM64
	if b.Arch == boards.ARMv7 {
		arch = ubootscr.ARM
	}
	scr, err = ubootscr.Encode(script, arch, "edgegate "+b.Name, uint32(epoch))
	return script, scr, err
}

// initialSlotState is the slot state as built, both copies: slot a
// committed, nothing on trial.
func initialSlotState() map[int64][]byte {
	rec := slotstate.Initial().Marshal()
	return map[int64][]byte{slotstate.Copies[0]: rec, slotstate.Copies[1]: rec}
}
