package jetstream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// singletonPrefix keys the singleton leases in the lease bucket.
const singletonPrefix = "s."

// Singleton runs fn on one worker at a time among the processes that call
// Singleton with the same name on this topic (a leader lease in the lease
// bucket, like the partitions'): the holder runs fn until it stops or
// loses the lease, then fn's context ends; another worker takes over once
// the lease is free (at once after stop, within LeaseTTL after a crash).
// fn must return when its context ends. Periodic jobs that every worker
// would otherwise repeat (the token refresher, reconciliation) run this
// way. stop ends fn, waits for it to return and releases the lease.
//
// Like a partition, a worker frozen longer than LeaseTTL/2 can overlap
// with the next holder for that long: fn must tolerate a rare overlap.
func (b *Bus) Singleton(ctx context.Context, name string, fn func(context.Context)) (stop func(), err error) {
	if err := validWorkerID(name); err != nil || name == "" {
		return nil, fmt.Errorf("jetstream: singleton name %q: only letters, digits, '-' and '_'", name)
	}
	kv, err := b.leases(ctx)
	if err != nil {
		return nil, err
	}
	s := &singleton{bus: b, kv: kv, key: singletonPrefix + b.cfg.Stream + "." + name, fn: fn,
		stopc: make(chan struct{}), done: make(chan struct{})}
	s.base = context.WithoutCancel(ctx) // fn outlives the call that started it
	s.tick(ctx)                         // the first attempt before returning: a lone worker runs fn at once
	go s.loop()
	var once sync.Once
	return func() {
		once.Do(func() { close(s.stopc) })
		<-s.done
	}, nil
}

type singleton struct {
	bus *Bus
	kv  jetstream.KeyValue
	key string
	fn  func(context.Context)
	// base carries Singleton's context values, not its cancellation.
	base context.Context

	held      bool
	rev       uint64
	renewedAt time.Time
	cancel    context.CancelFunc
	running   chan struct{} // closed when fn returns

	stopc, done chan struct{}
}

func (s *singleton) loop() {
	defer close(s.done)
	t := time.NewTicker(s.bus.cfg.LeaseTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-s.stopc:
			if s.held {
				s.end()
				ctx, cancel := context.WithTimeout(s.base, 5*time.Second)
				_ = s.kv.Delete(ctx, s.key, jetstream.LastRevision(s.rev))
				cancel()
			}
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.base, s.bus.cfg.LeaseTTL/4)
			s.tick(ctx)
			cancel()
		}
	}
}

// tick renews the lease held (ending fn when it is lost or stale), or
// tries to take a free one (starting fn).
func (s *singleton) tick(ctx context.Context) {
	sent := time.Now()
	if s.held {
		rev, err := s.kv.Update(ctx, s.key, []byte(s.bus.cfg.WorkerID), s.rev)
		if err == nil {
			s.rev, s.renewedAt = rev, sent
			return
		}
		if leaseLost(err, s.renewedAt, s.bus.cfg.LeaseTTL) {
			s.bus.cfg.Logger.Warn("singleton lease lost; stopping", "singleton", s.key, "err", err)
			s.end()
		}
		return
	}
	rev, held, err := takeLease(ctx, s.kv, s.key, s.bus.cfg.WorkerID)
	if !held {
		if err != nil {
			s.bus.cfg.Logger.Warn("singleton lease", "singleton", s.key, "err", err)
		}
		return
	}
	s.held, s.rev, s.renewedAt = true, rev, sent
	fctx, cancel := context.WithCancel(s.base)
	s.cancel, s.running = cancel, make(chan struct{})
	running := s.running
	go func() {
		defer close(running)
		s.fn(fctx)
	}()
	s.bus.cfg.Logger.Info("singleton lease taken", "singleton", s.key)
}

// end stops fn and waits for it.
func (s *singleton) end() {
	s.held = false
	s.cancel()
	<-s.running
}
