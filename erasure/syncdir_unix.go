//go:build !windows

package erasure

import "os"

// syncDir makes the entries of a directory durable: the renames into it,
// and with them (on journaling file systems, which commit metadata in
// order) the folders created before.
func syncDir(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
