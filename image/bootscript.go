package image

import (
	"bytes"
	"text/template"

	"github.com/edgegate/edgegate/boards"
)

// bootScript is the U-Boot script on the boot partition. It reads the slot
// state from slot.txt on the same partition, counts down a trial boot of a
// freshly written slot and falls back to the other slot when the tries run
// out, then boots the chosen slot's kernel and initramfs. U-Boot's
// distro_boot sets devtype, devnum and distro_bootpart before running it.
//
// slot.txt holds three variables: slot (a|b), trial (1 while the slot has
// not been committed) and tries (boots left before falling back). The init
// of a healthy trial slot commits it by writing trial=0.
var bootScript = template.Must(template.New("boot.cmd").Parse(`# edgegate boot script for {{.Board}}
setenv slot a
setenv trial 0
setenv tries 0
if load ${devtype} ${devnum}:${distro_bootpart} ${scriptaddr} slot.txt; then
  env import -t ${scriptaddr} ${filesize} slot trial tries
fi
if test "${trial}" = "1"; then
  if test ${tries} -gt 0; then
    setexpr tries ${tries} - 1
    echo "edgegate: trial boot of slot ${slot}, ${tries} tries left"
  else
    if test "${slot}" = "a"; then setenv slot b; else setenv slot a; fi
    setenv trial 0
    echo "edgegate: trial slot failed, falling back to slot ${slot}"
  fi
  env export -t ${scriptaddr} slot trial tries
  fatwrite ${devtype} ${devnum}:${distro_bootpart} ${scriptaddr} slot.txt ${filesize}
fi
if test "${slot}" = "b"; then setenv part 3; else setenv part 2; fi
echo "edgegate: booting slot ${slot} from partition ${part}"
setenv bootargs "{{.Bootargs}} edgegate.slot=${slot}"
load ${devtype} ${devnum}:${part} ${kernel_addr_r} {{.KernelFile}}
load ${devtype} ${devnum}:${part} ${ramdisk_addr_r} initrd
{{.BootCmd}} ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr}
`))

// initialSlotState is slot.txt as built: slot A, committed.
const initialSlotState = "slot=a\ntrial=0\ntries=0\n"

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
	})
	return buf.String(), err
}
