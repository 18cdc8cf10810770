package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
)

// TestFailingWriteUndoesOnlyItself: in a batch whose writes run without
// savepoints, one write that fails after writing something has all of its
// own effects undone, and every other write of the batch still commits.
func TestFailingWriteUndoesOnlyItself(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "o.db"), Linger: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Hold the writer on a first write so that the rest queue up and
	// share the next transaction.
	release, held := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.write(ctx, func(*txn) error { close(held); <-release; return nil })
	}()
	<-held
	boom := errors.New("boom")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := &order.Event{Platform: order.Shopee, ShopID: "1", OrderID: fmt.Sprintf("O%d", i), Kind: order.KindStatus,
				Key: fmt.Sprintf("k%d", i), Seq: uint64(i + 1), Payload: []byte(`{}`)}
			errs[i] = s.write(ctx, func(t *txn) error {
				if _, err := applyTx(t, e, time.Now()); err != nil {
					return err
				}
				if i == 3 {
					return boom // after its writes
				}
				return nil
			})
		})
	}
	for s.writes.Queued() < n {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		k := order.Key{Platform: order.Shopee, ShopID: "1", OrderID: fmt.Sprintf("O%d", i)}
		_, gerr := s.Get(ctx, k)
		if i == 3 {
			if !errors.Is(err, boom) || !errors.Is(gerr, order.ErrNotFound) {
				t.Errorf("failing write: %v, its order: %v; want boom and nothing written", err, gerr)
			}
			continue
		}
		if err != nil || gerr != nil {
			t.Errorf("write %d: %v, its order: %v; want it committed", i, err, gerr)
		}
	}
}
