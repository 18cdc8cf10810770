//go:build !unix

package apitoken

import "os"

// lockFile only checks path can be created: without flock, concurrent
// `orderlane tokens` runs are the operator's to avoid.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}
