package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/orderlane/orderlane/store/sqlite"
	"github.com/orderlane/orderlane/store/storetest"
)

// TestConformance runs the repository conformance suite (store/storetest):
// each case on its own database file.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Driver{
		NewDatabase: func(t *testing.T) func(*testing.T) storetest.Store {
			path := filepath.Join(t.TempDir(), "o.db")
			return func(t *testing.T) storetest.Store {
				t.Helper()
				s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
		},
		ErrClosed: sqlite.ErrClosed,
	})
}
