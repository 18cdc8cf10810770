//go:build !linux

package jetstream

import "os"

// fdatasync is a full fsync where fdatasync is not available (on macOS
// os.File.Sync uses F_FULLFSYNC).
func fdatasync(f *os.File) error { return f.Sync() }
