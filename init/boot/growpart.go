package boot

import (
	"time"

	"github.com/edgegate/edgegate/init/datapart"
	"github.com/edgegate/edgegate/init/growpart"
)

// growPartition grows the data partition to the end of the card before
// it is checked and mounted (see init/growpart): on the first boot the
// filesystem is then made to fill it. A table that is not edgegate's, or
// a disk smaller than it, is left alone and the boot goes on.
func (s *System) growPartition() {
	dev := s.Info.Partition(growpart.DataPartition)
	began := time.Now()
	res, err := growpart.Grow(growpart.Options{Disk: "/dev/" + s.Info.Disk, Partition: dev, Tail: datapart.RecordSize})
	took := time.Since(began).Milliseconds()
	switch {
	case err != nil:
		s.Console.Say("data: not growing %s: %v", dev, err)
	case res.Wrote:
		s.grewPart = true
		s.Console.Say("data: grew partition %s from %d to %d MiB in %d ms%s", dev, res.OldBytes()>>20, res.NewBytes()>>20, took, note(res.Why))
	case res.Told:
		s.Console.Say("data: partition %s is %d MiB (its table grew in an earlier boot)", dev, res.NewBytes()>>20)
	default:
		s.Console.Say("data: partition %s stays %d MiB: %s", dev, res.OldBytes()>>20, res.Why)
	}
}

// growFilesystem grows the mounted filesystem to fill its partition: after
// the partition grew under an existing filesystem, in this boot or in one
// cut short before the filesystem followed.
func (s *System) growFilesystem() {
	if !s.dataOK {
		return
	}
	dev := s.Info.Partition(growpart.DataPartition)
	res, err := growpart.GrowFS(dev, DataMount, datapart.RecordSize)
	switch {
	case err != nil:
		s.Console.Say("data: not growing %s: %v", DataMount, err)
	case res.Grew():
		s.Console.Say("data: grew %s from %d to %d MiB in %d ms", DataMount, res.OldBytes>>20, res.NewBytes>>20, res.Took.Milliseconds())
	case s.grewPart:
		s.Console.Say("data: %s is %d MiB, filling %s", DataMount, res.NewBytes>>20, dev)
	}
}

func note(why string) string {
	if why == "" {
		return ""
	}
	return " (" + why + ")"
}
