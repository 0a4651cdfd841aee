package exec

import (
	"os"
	"syscall"
)

// statDetails returns a file's ctime (ns), inode and device.
func statDetails(st os.FileInfo) (ctime int64, ino, dev uint64) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return s.Ctim.Sec*1e9 + s.Ctim.Nsec, uint64(s.Ino), uint64(s.Dev)
}
