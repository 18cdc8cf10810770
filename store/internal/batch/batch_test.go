package batch_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/store/internal/batch"
)

var errClosed = errors.New("closed")

// TestBatchesConcurrentWrites: every submitter gets its own result, and
// concurrent submits share commits.
func TestBatchesConcurrentWrites(t *testing.T) {
	t.Parallel()
	var commits, items atomic.Int64
	release := make(chan struct{})
	q := batch.New(64, 1, errClosed, func(ops []*batch.Op[int]) {
		<-release // hold the first commit so the rest queue up behind it
		commits.Add(1)
		for _, op := range ops {
			items.Add(1)
			if op.Item%2 == 1 {
				op.Done(errors.New("odd"))
			} else {
				op.Done(nil)
			}
		}
	})
	defer q.Close()
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range 50 {
		wg.Go(func() { errs[i] = q.Submit(context.Background(), i) })
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i%2 == 1) {
			t.Errorf("op %d: %v", i, err)
		}
	}
	if items.Load() != 50 || commits.Load() >= 50 {
		t.Fatalf("%d items in %d commits: want 50 items sharing commits", items.Load(), commits.Load())
	}
}

// TestCloseNeverStrandsASubmitter: submits racing Close all return, with a
// result or the closed error, never hanging.
func TestCloseNeverStrandsASubmitter(t *testing.T) {
	t.Parallel()
	for range 200 {
		q := batch.New(4, 2, errClosed, func(ops []*batch.Op[int]) {
			for _, op := range ops {
				op.Done(nil)
			}
		})
		var wg sync.WaitGroup
		for i := range 8 {
			// Keep submitting until the queue says it is closed, so that
			// some submits land while the writers drain and exit.
			wg.Go(func() {
				for {
					err := q.Submit(context.Background(), i)
					if errors.Is(err, errClosed) {
						return
					}
					if err != nil {
						t.Errorf("submit: %v", err)
						return
					}
				}
			})
		}
		time.Sleep(time.Millisecond) // let the submitters get going; Close then races them
		q.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("a submitter is still waiting after Close")
		}
		if err := q.Submit(context.Background(), 1); !errors.Is(err, errClosed) {
			t.Fatalf("submit after close: %v", err)
		}
		q.Close() // idempotent
	}
}
