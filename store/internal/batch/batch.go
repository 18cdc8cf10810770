// Package batch is the group-commit queue the order stores share: callers
// submit writes concurrently, writer goroutines take as many as are queued
// (up to a maximum) and hand them to the store's commit as one batch, and
// each caller waits for its own write's result.
//
// Under load a writer may linger: when its previous batch held at least
// LingerAfter writes and fewer are queued now, it waits for as many as
// that, up to the linger time and while they keep coming (none for a
// fifth of the linger ends the wait), so that the writes of many callers
// share one commit (one fsync, and each page the batch touches written
// once) instead of the first few committing alone. A lone write after a
// quiet spell commits at once.
package batch

import (
	"context"
	"sync"
	"time"
)

// LingerAfter is the previous batch's size from which a writer lingers.
const LingerAfter = 4

// Op is one submitted write.
type Op[T any] struct {
	// Ctx is the submitter's context: commit skips an op whose context is
	// done before it runs.
	Ctx context.Context
	// Item is what the store needs to run the write.
	Item T
	errc chan error
}

// Done reports the write's outcome to its submitter. Commit must call it
// exactly once for every op of the batch.
func (o *Op[T]) Done(err error) { o.errc <- err }

// Queue coalesces concurrent writes into batches.
type Queue[T any] struct {
	ops       chan *Op[T]
	max       int
	linger    time.Duration
	commit    func([]*Op[T])
	closedErr error

	closeOnce sync.Once
	done      chan struct{} // closed by Close
	stopped   chan struct{} // closed when every writer has returned
	wg        sync.WaitGroup
}

// New starts writers goroutines (at least 1) that each call commit with
// batches of 1 to maxBatch ops, lingering up to linger (0: never) for a
// batch to fill under load (see the package doc). Submit returns
// closedErr after Close.
func New[T any](maxBatch, writers int, linger time.Duration, closedErr error, commit func(batch []*Op[T])) *Queue[T] {
	maxBatch, writers = max(maxBatch, 1), max(writers, 1)
	q := &Queue[T]{
		ops: make(chan *Op[T], maxBatch), max: maxBatch, linger: max(linger, 0), commit: commit, closedErr: closedErr,
		done: make(chan struct{}), stopped: make(chan struct{}),
	}
	for range writers {
		q.wg.Add(1)
		go q.writer()
	}
	go func() { q.wg.Wait(); close(q.stopped) }()
	return q
}

// Submit queues item and waits until its batch has committed (or failed),
// the queue is closed, or ctx is done. When ctx ends first the write may
// still commit: callers treat it as a failure and retry, which idempotent
// writes absorb.
func (q *Queue[T]) Submit(ctx context.Context, item T) error {
	op := &Op[T]{Ctx: ctx, Item: item, errc: make(chan error, 1)}
	select {
	case <-q.done:
		return q.closedErr
	default:
	}
	select {
	case q.ops <- op:
	case <-q.done:
		return q.closedErr
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-op.errc:
		return err
	case <-q.stopped:
		// Every writer has returned; one may have handled op just before.
		select {
		case err := <-op.errc:
			return err
		default:
			return q.closedErr
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Queued is how many submitted writes wait for a writer to take them.
func (q *Queue[T]) Queued() int { return len(q.ops) }

// Closed is closed once Close has been called.
func (q *Queue[T]) Closed() <-chan struct{} { return q.done }

// Close stops the writers after the ops already queued and waits for them.
// Safe to call more than once.
func (q *Queue[T]) Close() {
	q.closeOnce.Do(func() { close(q.done) })
	<-q.stopped
}

func (q *Queue[T]) writer() {
	defer q.wg.Done()
	batch := make([]*Op[T], 0, q.max)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	prev := 0 // the previous batch's size
	for {
		var first *Op[T]
		select {
		case first = <-q.ops:
		case <-q.done:
			// Finish what was queued before Close.
			for {
				select {
				case op := <-q.ops:
					q.commit(append(batch[:0], op))
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < q.max {
			select {
			case op := <-q.ops:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		if q.linger > 0 && prev >= LingerAfter && len(batch) < prev {
			// Wait for about as many writes as last time (the submitters
			// under load come back after each commit), while they keep
			// coming: until the batch is that big, the linger is over,
			// or none came for a fifth of it.
			deadline, gap := time.Now().Add(q.linger), q.linger/5
		linger:
			for len(batch) < prev {
				wait := min(time.Until(deadline), gap)
				if wait <= 0 {
					break
				}
				timer.Reset(wait)
				select {
				case op := <-q.ops:
					batch = append(batch, op)
					timer.Stop()
				case <-timer.C:
					break linger
				case <-q.done:
					timer.Stop()
					break linger
				}
			}
		}
		prev = len(batch)
		q.commit(batch)
	}
}
