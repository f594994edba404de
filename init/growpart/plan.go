package growpart

import (
	"fmt"
)

// Alignment is where the grown partition ends: on a 4 MiB boundary of the
// disk, a multiple of the erase blocks of SD cards and eMMC (1 to 4 MiB),
// so the filesystem's last blocks do not share an erase block with
// whatever follows. An MBR keeps nothing at the end of the disk (a GPT
// would keep its backup header there), so the partition may end at the
// last aligned sector.
const Alignment = 4 << 20

// MinGrowth is the least growth worth a table write: a disk the image
// fills to within a few MiB is left as it is.
const MinGrowth = 8 << 20

// maxSectors is the most an MBR entry can reach: start and length are
// 32-bit sector numbers, so 2 TiB of 512-byte sectors.
const maxSectors = 1 << 32

// Plan is what growing the data partition of a disk would do.
type Plan struct {
	Start      int64 // the data partition's first sector
	OldSectors int64 // its length now
	NewSectors int64 // its length grown; OldSectors when it does not grow
	// Why says, when it does not grow, why not.
	Why string
}

// Grows is whether the plan moves the partition's end.
func (p Plan) Grows() bool { return p.NewSectors > p.OldSectors }

// OldBytes and NewBytes are the partition's sizes before and after.
func (p Plan) OldBytes() int64 { return p.OldSectors * SectorSize }
func (p Plan) NewBytes() int64 { return p.NewSectors * SectorSize }

// PlanGrowth says how far the data partition of t can grow on a disk of
// diskBytes: to the last Alignment boundary of the disk (or of what an
// MBR can address), when that is at least MinGrowth past its end. It
// never shrinks the partition and refuses a table that is not edgegate's
// or that does not fit on the disk: the image was written to a smaller
// card, or the disk is not the one the table describes.
func PlanGrowth(t Table, diskBytes int64) (Plan, error) {
	if err := t.CheckLayout(); err != nil {
		return Plan{}, fmt.Errorf("not the partition table edgegate builds: %w", err)
	}
	d := t.Data()
	p := Plan{Start: int64(d.Start), OldSectors: int64(d.Sectors), NewSectors: int64(d.Sectors)}
	diskSectors := diskBytes / SectorSize
	if d.End() > diskSectors {
		return Plan{}, fmt.Errorf("the partition table reaches sector %d but the disk has only %d sectors (%d MiB): the image is larger than the card it was written to",
			d.End(), diskSectors, diskBytes>>20)
	}
	usable, capped := diskSectors, false
	if usable > maxSectors {
		usable, capped = maxSectors, true
	}
	const align = Alignment / SectorSize
	end := usable / align * align
	switch {
	case end-d.End() < MinGrowth/SectorSize:
		p.Why = fmt.Sprintf("only %d MiB of the disk lie after it", (diskSectors-d.End())*SectorSize>>20)
		return p, nil
	case capped:
		p.Why = fmt.Sprintf("an MBR reaches only the first 2 TiB of this %d GiB disk", diskBytes>>30)
	}
	p.NewSectors = end - p.Start
	return p, nil
}
