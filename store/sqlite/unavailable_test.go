package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
)

func unavailableEvent(key string, payload []byte) *order.Event {
	return &order.Event{
		Platform: order.Shopee, ShopID: "1", OrderID: "O1", Kind: order.KindStatus, PushType: "3",
		PlatformStatus: "UNPAID", Status: order.StatusUnpaid, UpdateTime: time.Unix(1_700_000_000, 0),
		Key: key, ReceivedAt: time.Now(), Payload: payload, Seq: 1,
	}
}

// TestLockedStoreIsUnavailable: a write that cannot get the database lock
// (another connection holds it past BusyTimeout) fails with
// order.ErrUnavailable, and succeeds once the lock is released.
func TestLockedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "o.db")
	s, err := Open(ctx, Config{Path: path, BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(50)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Apply(ctx, unavailableEvent("k1", []byte(`{}`)))
	if !errors.Is(err, order.ErrUnavailable) {
		t.Fatalf("apply while another connection holds the lock: %v, want order.ErrUnavailable", err)
	}
	if err := s.Append(ctx, unavailableEvent("k1", []byte(`{}`))); !errors.Is(err, order.ErrUnavailable) {
		t.Fatalf("audit append while locked: %v, want order.ErrUnavailable", err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Apply(ctx, unavailableEvent("k1", []byte(`{}`))); err != nil || res.Outcome != order.Applied {
		t.Fatalf("apply after the lock is released: %+v, %v", res, err)
	}
}

// TestFullStoreIsUnavailable: a write that finds no room (SQLITE_FULL,
// here by capping the database's pages as a full disk would) fails with
// order.ErrUnavailable and writes nothing; with room again it succeeds.
func TestFullStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var pages int64
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The writer is the pool's only connection: the pragma applies to it.
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 256<<10)
	_, err = s.Apply(ctx, unavailableEvent("k1", big))
	if !errors.Is(err, order.ErrUnavailable) {
		t.Fatalf("apply on a full database: %v, want order.ErrUnavailable", err)
	}
	if _, err := s.Get(ctx, order.Key{Platform: order.Shopee, ShopID: "1", OrderID: "O1"}); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("after the failed apply: %v, want nothing written", err)
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Apply(ctx, unavailableEvent("k1", big)); err != nil || res.Outcome != order.Applied {
		t.Fatalf("apply with room again: %+v, %v", res, err)
	}
}

// TestClosedStoreIsUnavailable: writes after Close are retried later, not
// blamed on the event.
func TestClosedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Apply(context.Background(), unavailableEvent("k1", []byte(`{}`))); !errors.Is(err, order.ErrUnavailable) {
		t.Fatalf("apply after close: %v, want order.ErrUnavailable", err)
	}
}
