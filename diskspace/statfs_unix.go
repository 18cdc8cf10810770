//go:build linux || darwin

package diskspace

import "syscall"

// available is the space available to an unprivileged process on dir's
// file system.
func available(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:unconvert // the field types differ between systems
}
