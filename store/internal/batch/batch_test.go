package batch_test

import (
	"context"
	"errors"
	"fmt"
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
	release, entered := make(chan struct{}), make(chan struct{})
	var once sync.Once
	q := batch.New(64, 1, 0, errClosed, func(ops []*batch.Op[int]) {
		once.Do(func() { close(entered) })
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
	<-entered
	waitFor(t, func() bool { return q.Queued() >= 25 }) // the rest queue up behind the held commit
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
		q := batch.New(4, 2, 0, errClosed, func(ops []*batch.Op[int]) {
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

// recorder is a commit that records each batch's items and can hold the
// first commit until released.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	hold    chan struct{} // if set, the first commit waits for it
	entered chan struct{} // closed when the first commit starts
	once    sync.Once
}

func (r *recorder) commit(ops []*batch.Op[int]) {
	r.once.Do(func() {
		close(r.entered)
		if r.hold != nil {
			<-r.hold
		}
	})
	items := make([]int, 0, len(ops))
	for _, op := range ops {
		items = append(items, op.Item)
		op.Done(nil)
	}
	r.mu.Lock()
	r.batches = append(r.batches, items)
	r.mu.Unlock()
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []int
	for _, b := range r.batches {
		s = append(s, len(b))
	}
	return s
}

// submitAll submits items concurrently and waits for them.
func submitAll(t *testing.T, q *batch.Queue[int], items ...int) {
	t.Helper()
	var wg sync.WaitGroup
	for _, it := range items {
		wg.Go(func() {
			if err := q.Submit(context.Background(), it); err != nil {
				t.Errorf("submit %d: %v", it, err)
			}
		})
	}
	wg.Wait()
}

// TestLingerUnderLoad: after a batch of LingerAfter or more writes, the
// writer waits for later writes to share the next commit; without the
// linger, a write arriving 50ms after another gets a commit of its own.
func TestLingerUnderLoad(t *testing.T) {
	t.Parallel()
	for _, linger := range []time.Duration{0, 2 * time.Second} {
		r := &recorder{hold: make(chan struct{}), entered: make(chan struct{})}
		q := batch.New(64, 1, linger, errClosed, r.commit)
		// A first write, held in its commit while LingerAfter more queue
		// up behind it: they make the second batch, which puts the
		// writer under load.
		first := make(chan struct{})
		go func() { submitAll(t, q, 0); close(first) }()
		<-r.entered // the writer took it
		queued := make(chan struct{})
		go func() {
			items := make([]int, batch.LingerAfter)
			for i := range items {
				items[i] = i + 1
			}
			submitAll(t, q, items...)
			close(queued)
		}()
		waitFor(t, func() bool { return q.Queued() == batch.LingerAfter })
		close(r.hold)
		<-first
		<-queued
		// Two writes 50ms apart.
		done := make(chan struct{})
		go func() { submitAll(t, q, 100); close(done) }()
		time.Sleep(50 * time.Millisecond)
		submitAll(t, q, 101)
		<-done
		q.Close()
		got := r.sizes()
		want := []int{1, batch.LingerAfter, 2}
		if linger == 0 {
			want = []int{1, batch.LingerAfter, 1, 1}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("linger %s: batch sizes %v, want %v", linger, got, want)
		}
	}
}

// TestNoLingerWhenQuiet: a lone write after small batches commits at once,
// however long the linger.
func TestNoLingerWhenQuiet(t *testing.T) {
	t.Parallel()
	r := &recorder{entered: make(chan struct{})}
	q := batch.New(64, 1, time.Hour, errClosed, r.commit)
	defer q.Close()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := q.Submit(ctx, i)
		cancel()
		if err != nil {
			t.Fatalf("write %d: %v (it waited for company while the queue was quiet)", i, err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
