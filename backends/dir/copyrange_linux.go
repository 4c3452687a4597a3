package dir

import "golang.org/x/sys/unix"

// copyRangeSafe reports whether the tree at path is on a local file system
// where copy_file_range is known to work: a reflink on XFS and Btrfs, an
// in-kernel copy on the others. Network file systems (NFS, CIFS, FUSE)
// keep the plain copy: servers differ in what they do with the call.
func copyRangeSafe(path string) bool {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return false
	}
	switch uint32(st.Type) {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC,
		unix.TMPFS_MAGIC, unix.F2FS_SUPER_MAGIC, 0x2fc12fc1: // ZFS
		return true
	}
	return false
}
