package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/orderlane/orderlane/bus"
)

// Subscribe starts a durable subscription. Its consumer is created or
// updated, reset to its ack floor, and fed to h through the group
// scheduler. The subscription runs until Stop.
func (b *Bus) Subscribe(ctx context.Context, cfg bus.SubscriptionConfig, h bus.Handler) (bus.Subscription, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cons, err := b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       cfg.Name,
		Description:   "orderlane subscription " + cfg.Name,
		FilterSubject: b.cfg.Subjects + "." + cfg.Filter,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxDeliver:    -1, // attempts are counted here; see bus.SubscriptionConfig
		MaxAckPending: cfg.MaxPending,
		Replicas:      b.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: consumer %s: %w", cfg.Name, err)
	}
	// Messages a previous process held unacknowledged must come back first
	// and in order; without the reset they would come back only after
	// AckWait, behind newer messages of their group.
	if _, err := b.stream.ResetConsumer(ctx, cfg.Name); err != nil {
		return nil, fmt.Errorf("jetstream: reset consumer %s (needs nats-server >= 2.14): %w", cfg.Name, err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	s := &subscription{
		bus:     b,
		cfg:     cfg,
		cons:    cons,
		handler: h,
		log:     b.cfg.Logger.With("subscription", cfg.Name),
		groups:  make(map[string]*group),
		held:    make(map[uint64]*held),
		ready:   make(chan *group, cfg.MaxPending+cfg.Concurrency),
		stop:    make(chan struct{}),
		hctx:    hctx,
		cancel:  cancel,
	}
	cc, err := cons.Consume(s.receive,
		jetstream.PullMaxMessages(min(cfg.MaxPending, 1024)),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				s.log.Warn("consume", "err", err)
			}
		}))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jetstream: consume %s: %w", cfg.Name, err)
	}
	s.cc = cc
	for range cfg.Concurrency {
		s.workers.Add(1)
		go s.work()
	}
	s.workers.Add(1)
	go s.keepAlive()
	return s, nil
}

// held is one message in the scheduler.
type held struct {
	msg     jetstream.Msg // the newest delivery of this sequence
	seq     uint64
	attempt int
	err     error
}

// group is a message group with messages in memory. It is in the ready
// channel, being handled by a worker, or waiting for a retry timer: never
// two of these at once.
type group struct {
	key   string
	queue []*held
}

type subscription struct {
	bus     *Bus
	cfg     bus.SubscriptionConfig
	cons    jetstream.Consumer
	cc      jetstream.ConsumeContext
	handler bus.Handler
	log     *slog.Logger

	mu     sync.Mutex
	groups map[string]*group
	held   map[uint64]*held
	ready  chan *group

	stop     chan struct{}
	stopOnce sync.Once
	workers  sync.WaitGroup
	hctx     context.Context
	cancel   context.CancelFunc

	handled, retries, deadLettered atomic.Uint64
}

// receive is the consume callback: it files the message behind its group
// and never blocks (the consumer's MaxAckPending bounds what arrives).
func (s *subscription) receive(m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		s.log.Error("message without metadata", "err", err)
		return
	}
	seq := meta.Sequence.Stream
	key := m.Headers().Get(HeaderGroup)
	if key == "" {
		key = m.Subject() // messages published without a group: one group per subject
	}
	s.mu.Lock()
	if h, ok := s.held[seq]; ok {
		// A redelivery of a message we hold (its ack wait ran out): keep
		// the newest handle, do not queue it twice.
		h.msg = m
		s.mu.Unlock()
		return
	}
	h := &held{msg: m, seq: seq}
	s.held[seq] = h
	g, ok := s.groups[key]
	if ok {
		g.queue = append(g.queue, h)
		s.mu.Unlock()
		return
	}
	g = &group{key: key, queue: []*held{h}}
	s.groups[key] = g
	s.mu.Unlock()
	s.ready <- g
}

func (s *subscription) work() {
	defer s.workers.Done()
	for {
		select {
		case <-s.stop:
			return
		case g := <-s.ready:
			s.handle(g)
		}
	}
}

// handle runs the handler on g's head message once, then acknowledges it and
// requeues g, or schedules the retry, or dead-letters.
func (s *subscription) handle(g *group) {
	s.mu.Lock()
	h := g.queue[0]
	m := h.msg
	s.mu.Unlock()
	select {
	case <-s.stop:
		return // leave it unacknowledged: redelivered on the next start
	default:
	}
	// With group commit the server delivers a message as soon as it is
	// written, possibly before its fsync. Acting on it then could record
	// (in the handler's store, or in the consumer's ack floor) a message
	// that a power loss takes back, and whose sequence the stream would
	// then give to another message. So wait for its fsync (usually done
	// already by the publisher's round).
	if err := s.bus.commit(s.hctx, s.bus.cfg.Stream, h.seq); err != nil {
		if s.hctx.Err() == nil {
			s.log.Error("message not durable; will retry", "seq", h.seq, "err", err)
			s.retryLater(g, h.attempt+1)
		}
		return
	}
	h.attempt++
	d := &bus.Delivery{
		Message: bus.Message{
			ID:      m.Headers().Get(jetstream.MsgIDHeader),
			Subject: trimPrefix(m.Subject(), s.bus.cfg.Subjects),
			Group:   g.key,
			Data:    m.Data(),
		},
		Seq:     h.seq,
		Attempt: h.attempt,
	}
	if meta, err := m.Metadata(); err == nil {
		d.Published = meta.Timestamp
	}
	err := s.call(d)
	switch {
	case err == nil:
		s.handled.Add(1)
	case bus.IsPermanent(err) || h.attempt >= s.cfg.MaxAttempts:
		if dlErr := s.bus.deadLetter(s.hctx, s.cfg.Name, m, h.seq, h.attempt, err); dlErr != nil {
			// The dead-letter stream is unavailable: keep the message and
			// try again later rather than drop it.
			s.log.Error("dead-letter failed; will retry", "seq", h.seq, "err", dlErr)
			s.retryLater(g, h.attempt)
			return
		}
		s.deadLettered.Add(1)
		s.log.Warn("dead-lettered", "seq", h.seq, "group", g.key, "attempts", h.attempt, "err", err)
	default:
		s.retries.Add(1)
		s.log.Debug("handler failed; retrying", "seq", h.seq, "group", g.key, "attempt", h.attempt, "err", err)
		s.retryLater(g, h.attempt)
		return
	}
	s.ack(h)
	s.mu.Lock()
	g.queue[0] = nil
	g.queue = g.queue[1:]
	delete(s.held, h.seq)
	more := len(g.queue) > 0
	if !more {
		delete(s.groups, g.key)
	}
	s.mu.Unlock()
	if more {
		s.ready <- g // to the back: groups take turns
	}
}

// call runs the handler, turning a panic into an error.
func (s *subscription) call(d *bus.Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return s.handler(s.hctx, d)
}

// ack confirms the acknowledgement with the server before the group moves
// on, so a lost ack cannot bring the message back behind its successors.
// If the server cannot confirm it after a few tries the group moves on
// anyway: a redelivery is absorbed by the handler's idempotency.
func (s *subscription) ack(h *held) {
	for try := 1; ; try++ {
		s.mu.Lock()
		m := h.msg
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(s.hctx, 5*time.Second)
		err := m.DoubleAck(ctx)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrMsgAlreadyAckd) || try == 3 || s.hctx.Err() != nil {
			if err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
				s.log.Warn("ack not confirmed; a redelivery may follow", "seq", h.seq, "err", err)
			}
			return
		}
	}
}

func (s *subscription) retryLater(g *group, attempt int) {
	time.AfterFunc(s.cfg.Backoff(attempt), func() {
		select {
		case <-s.stop:
		case s.ready <- g:
		}
	})
}

// keepAlive tells the server every held message is still being worked on,
// so none is redelivered while it waits behind its group's head.
func (s *subscription) keepAlive() {
	defer s.workers.Done()
	t := time.NewTicker(s.bus.cfg.AckWait / 3)
	defer t.Stop()
	var msgs []jetstream.Msg
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		msgs = msgs[:0]
		for _, h := range s.held {
			msgs = append(msgs, h.msg)
		}
		s.mu.Unlock()
		for _, m := range msgs {
			_ = m.InProgress()
		}
	}
}

// Stop implements bus.Subscription.
func (s *subscription) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.cc.Stop()
		close(s.stop)
	})
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return ctx.Err()
	}
}

// Stats implements bus.Subscription.
func (s *subscription) Stats(ctx context.Context) bus.Stats {
	st := bus.Stats{
		Name:         s.cfg.Name,
		Handled:      s.handled.Load(),
		Retries:      s.retries.Load(),
		DeadLettered: s.deadLettered.Load(),
		Lag:          -1,
	}
	s.mu.Lock()
	st.Held, st.Groups = len(s.held), len(s.groups)
	s.mu.Unlock()
	if info, err := s.cons.Info(ctx); err == nil {
		st.Lag = int64(info.NumPending)
	}
	return st
}

func trimPrefix(subject, prefix string) string {
	if len(subject) > len(prefix) && subject[:len(prefix)] == prefix && subject[len(prefix)] == '.' {
		return subject[len(prefix)+1:]
	}
	return subject
}
