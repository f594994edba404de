package disk

import (
	"encoding/binary"
	"fmt"
	"io"
)

// FSInfo sector layout (Microsoft FAT specification, "FSInfo Structure").
const (
	fsInfoLeadSig   = 0x41615252
	fsInfoStructSig = 0x61417272
	fsInfoTrailSig  = 0xaa550000
)

// fixFSInfo counts the free clusters of the FAT32 filesystem at off and
// writes the count and the first free cluster into its FSInfo sector and
// that sector's backup.
func fixFSInfo(f io.ReaderAt, off int64) error {
	w, ok := f.(io.WriterAt)
	if !ok {
		return fmt.Errorf("FSInfo: image not writable")
	}
	bs := make([]byte, SectorSize)
	if _, err := f.ReadAt(bs, off); err != nil {
		return fmt.Errorf("FSInfo: reading boot sector: %w", err)
	}
	var (
		bytesPerSector = int64(binary.LittleEndian.Uint16(bs[11:13]))
		perCluster     = int64(bs[13])
		reserved       = int64(binary.LittleEndian.Uint16(bs[14:16]))
		fats           = int64(bs[16])
		totalSectors   = int64(binary.LittleEndian.Uint32(bs[32:36]))
		fatSectors     = int64(binary.LittleEndian.Uint32(bs[36:40]))
		fsInfoSector   = int64(binary.LittleEndian.Uint16(bs[48:50]))
		backupBoot     = int64(binary.LittleEndian.Uint16(bs[50:52]))
	)
	if bytesPerSector != SectorSize || perCluster == 0 || fatSectors == 0 || fsInfoSector == 0 {
		return fmt.Errorf("FSInfo: not a FAT32 boot sector")
	}
	clusters := (totalSectors - reserved - fats*fatSectors) / perCluster
	fat := make([]byte, fatSectors*SectorSize)
	if _, err := f.ReadAt(fat, off+reserved*SectorSize); err != nil {
		return fmt.Errorf("FSInfo: reading FAT: %w", err)
	}
	var free, next uint32
	for c := int64(2); c < clusters+2 && c*4+4 <= int64(len(fat)); c++ {
		if binary.LittleEndian.Uint32(fat[c*4:])&0x0fffffff == 0 {
			if free == 0 {
				next = uint32(c)
			}
			free++
		}
	}
	info := make([]byte, SectorSize)
	binary.LittleEndian.PutUint32(info[0:], fsInfoLeadSig)
	binary.LittleEndian.PutUint32(info[484:], fsInfoStructSig)
	binary.LittleEndian.PutUint32(info[488:], free)
	binary.LittleEndian.PutUint32(info[492:], next)
	binary.LittleEndian.PutUint32(info[508:], fsInfoTrailSig)
	sectors := []int64{fsInfoSector}
	if backupBoot != 0 {
		sectors = append(sectors, backupBoot+fsInfoSector)
	}
	for _, s := range sectors {
		if _, err := w.WriteAt(info, off+s*SectorSize); err != nil {
			return fmt.Errorf("FSInfo: writing sector %d: %w", s, err)
		}
	}
	return nil
}
