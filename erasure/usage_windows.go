package erasure

import "golang.org/x/sys/windows"

// diskUsage returns the size and the free bytes of the volume holding path.
func diskUsage(path string) (total, free uint64, err error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, 0, err
	}
	var avail, tot, totFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &tot, &totFree); err != nil {
		return 0, 0, err
	}
	return tot, avail, nil
}

// fileDev is not known here: mount points are not told apart.
func fileDev(path string) (uint64, bool) { return 0, false }
