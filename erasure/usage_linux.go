package erasure

import "golang.org/x/sys/unix"

// diskUsage returns the size and the free bytes of the file system holding
// path.
func diskUsage(path string) (total, free uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return st.Blocks * uint64(st.Frsize), st.Bavail * uint64(st.Frsize), nil
}
