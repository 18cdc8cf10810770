package jetstream_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/bustest"
	js "github.com/orderlane/orderlane/bus/jetstream"
)

// groupCommit starts an embedded server with group commit and a bus on it.
func groupCommit(t *testing.T) (*js.Embedded, *js.Bus) {
	t.Helper()
	e, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: t.TempDir(), GroupCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	b, err := js.New(context.Background(), e.Conn, js.Config{Syncer: e.Syncer})
	if err != nil {
		t.Fatal(err)
	}
	return e, b
}

// TestConformanceEmbeddedGroupCommit: the bus guarantees hold with the
// durable acknowledgement by group commit (subscriptions wait for the
// fsync of what they hand over).
func TestConformanceEmbeddedGroupCommit(t *testing.T) {
	t.Parallel()
	bustest.Run(t, bustest.Features{Dedup: true, Restart: true}, func(t *testing.T) bustest.Driver {
		_, b := groupCommit(t)
		return driver{b}
	})
}

// TestGroupCommitSharesFsyncs: concurrent publishes are released by
// shared rounds.
func TestGroupCommitSharesFsyncs(t *testing.T) {
	t.Parallel()
	e, b := groupCommit(t)
	const publishers, each = 64, 20
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				id := strconv.Itoa(p*each + i)
				if _, err := b.Publish(context.Background(), bus.Message{ID: id, Subject: "a.order", Group: "g" + id, Data: []byte(id)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// A publish whose sequence a finished round already covered (a later
	// PubAck was in it) returns without waiting; every other one waited.
	st := e.Syncer.Stats()
	if st.Rounds == 0 || st.Rounds >= publishers*each {
		t.Fatalf("%d rounds for %d publishes: no fsync was shared", st.Rounds, publishers*each)
	}
	t.Logf("%d publishes, %d waited, %d rounds, %d fsync calls", publishers*each, st.Waits, st.Rounds, st.Fsyncs)
}

// TestGroupCommitDuplicateWaits: a duplicate's PubAck names the original's
// sequence, which is durable when Publish returns.
func TestGroupCommitDuplicateWaits(t *testing.T) {
	t.Parallel()
	e, b := groupCommit(t)
	ctx := context.Background()
	m := bus.Message{ID: "k", Subject: "a.order", Group: "g", Data: []byte("x")}
	first, err := b.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	before := e.Syncer.Stats().Waits
	second, err := b.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Duplicate || second.Seq != first.Seq {
		t.Fatalf("second publish: %+v, want a duplicate of seq %d", second, first.Seq)
	}
	if e.Syncer.Stats().Waits != before {
		t.Fatal("the duplicate of a durable message waited for another fsync")
	}
}

// TestGroupCommitNeedsR1: quorum replication, not a local fsync, guards a
// replicated stream.
func TestGroupCommitNeedsR1(t *testing.T) {
	t.Parallel()
	e, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: t.TempDir(), GroupCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := js.New(context.Background(), e.Conn, js.Config{Syncer: e.Syncer, Replicas: 3}); err == nil {
		t.Fatal("group commit with Replicas 3: want an error")
	}
	if _, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: t.TempDir(), GroupCommit: true, SyncAlways: true}); err == nil {
		t.Fatal("GroupCommit with SyncAlways: want an error")
	}
}

// TestSyncerClosed: a Wait after Close fails instead of hanging.
func TestSyncerClosed(t *testing.T) {
	t.Parallel()
	e, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: t.TempDir(), GroupCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.New(context.Background(), e.Conn, js.Config{Syncer: e.Syncer}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if err := e.Syncer.Wait(context.Background(), "ORDERLANE_EVENTS", 1); !errors.Is(err, js.ErrSyncerClosed) {
		t.Fatalf("Wait after Close: %v, want ErrSyncerClosed", err)
	}
}
