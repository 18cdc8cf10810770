package enrich_test

import (
	"testing"

	"github.com/orderlane/orderlane/internal/sandboxrig"
)

// rig is the shared sandbox rig: the three marketplace fakes over one
// sale, their API clients, and a SQLite store with its shop store.
type rig = sandboxrig.Rig

func newRig(t *testing.T) *rig { return sandboxrig.New(t) }
