//go:build !linux && !windows

package erasure

import "errors"

// diskUsage is not implemented here: usage shows as unknown.
func diskUsage(path string) (total, free uint64, err error) {
	return 0, 0, errors.New("disk usage unknown on this system")
}
