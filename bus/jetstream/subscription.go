package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orderlane/orderlane/bus"
)

// blockPoll is how often a subscription in strict mode (HoldOnDeadLetter)
// checks whether the dead letters holding its groups were discarded.
const blockPoll = time.Second

// subscribe starts one partition of a subscription: its durable consumer
// (filtering filter) is created or updated, reset to its ack floor, and fed
// to h through the group scheduler, until Stop. cfg has its defaults.
//
// In strict mode (HoldOnDeadLetter) the groups of the subscription's
// unresolved dead letters are read from the dead-letter stream first, so
// they stay held across restarts.
//
// onGap, if not nil, is called (on its own goroutine) when a delivery was
// lost in transit: the subscription has stopped queueing and must be
// stopped and started again (see gap).
func (b *Bus) subscribe(ctx context.Context, cfg bus.SubscriptionConfig, h bus.Handler, partition int, onGap func(*subscription)) (*subscription, error) {
	durable, filter := b.consumerOf(cfg, partition)
	dls, err := b.deadLetterStream(ctx)
	if err != nil {
		return nil, err
	}
	cons, err := b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "orderlane subscription " + cfg.Name,
		FilterSubject: filter,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxDeliver:    -1, // attempts are counted here; see bus.SubscriptionConfig
		MaxAckPending: cfg.MaxPending,
		Replicas:      b.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: consumer %s: %w", durable, err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	s := &subscription{
		bus:       b,
		partition: partition,
		cfg:       cfg,
		cons:      cons,
		dlStream:  dls,
		handler:   h,
		log:       b.cfg.Logger.With("subscription", cfg.Name, "consumer", durable),
		groups:    make(map[string]*group),
		held:      make(map[uint64]*held),
		ready:     make(chan *group, cfg.MaxPending+cfg.Concurrency),
		pause:     newPause(cfg.Pause),
		stop:      make(chan struct{}),
		hctx:      hctx,
		cancel:    cancel,
	}
	if onGap != nil {
		s.onGap = func() { onGap(s) }
	}
	if cfg.HoldOnDeadLetter {
		if err := s.loadBlocks(ctx); err != nil {
			cancel()
			return nil, err
		}
	}
	// Messages a previous process held unacknowledged must come back first
	// and in order; without the reset they would come back only after
	// AckWait, behind newer messages of their group. Everything delivered
	// after the ack floor is handed over again (counted as redeliveries:
	// after the reset the server counts them as first deliveries).
	if info := cons.CachedInfo(); info != nil && info.Delivered.Consumer > info.AckFloor.Consumer {
		s.redeliveries.Add(info.Delivered.Consumer - info.AckFloor.Consumer)
	}
	if err := b.resetConsumer(ctx, durable); err != nil {
		cancel()
		return nil, err
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
		return nil, fmt.Errorf("jetstream: consume %s: %w", durable, err)
	}
	s.cc = cc
	for range cfg.Concurrency {
		s.workers.Add(1)
		go s.work()
	}
	s.workers.Add(1)
	go s.keepAlive()
	if cfg.HoldOnDeadLetter {
		s.workers.Add(1)
		go s.watchBlocks()
	}
	return s, nil
}

// resetConsumer resets the consumer to its ack floor. A consumer just
// created on a cluster may have no leader for a moment: a request that
// times out is tried again, for up to three tries.
func (b *Bus) resetConsumer(ctx context.Context, name string) error {
	var err error
	for try := 1; try <= 3; try++ {
		if _, err = b.stream.ResetConsumer(ctx, name); err == nil {
			return nil
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, nats.ErrNoResponders) || ctx.Err() != nil {
			break
		}
		b.cfg.Logger.Warn("consumer reset timed out; trying again", "consumer", name, "try", try, "err", err)
	}
	return fmt.Errorf("jetstream: reset consumer %s (needs nats-server >= 2.14): %w", name, err)
}

// held is one message in the scheduler.
type held struct {
	msg       jetstream.Msg // the newest delivery of this sequence
	seq       uint64
	published time.Time
	attempt   int    // handler calls that counted (Unavailable ones do not)
	replayOf  uint64 // the dead letter this message replays, if it is a replay for this subscription
	jump      bool   // a replay that resolves its group's block: handled before the messages it held
	skip      bool   // a replay for another subscription: acknowledged without calling the handler
}

// group is a message group with messages in memory, or held by a dead
// letter. While active it is in the ready channel, being handled by a
// worker, or waiting for a retry timer: exactly one of these.
type group struct {
	key      string
	queue    []*held
	active   bool
	retrying bool
	// blockedBy maps the unresolved dead letters holding the group (strict
	// mode) to the topic sequence of the message each one holds.
	blockedBy map[uint64]uint64
}

// runnable reports whether the group's head may be handed over: it has
// one and nothing holds it (a replay that resolves the block runs first).
func (g *group) runnable() bool {
	return len(g.queue) > 0 && (len(g.blockedBy) == 0 || g.queue[0].jump)
}

type subscription struct {
	partition int
	// lastCSeq is the highest consumer sequence received (receive's
	// goroutine only); gapped is set once one was skipped; onGap restarts
	// the subscription (see gap).
	lastCSeq uint64
	gapped   atomic.Bool
	onGap    func()
	bus      *Bus
	cfg      bus.SubscriptionConfig
	cons     jetstream.Consumer
	cc       jetstream.ConsumeContext
	dlStream jetstream.Stream
	handler  bus.Handler
	log      *slog.Logger

	mu     sync.Mutex
	groups map[string]*group
	held   map[uint64]*held
	ready  chan *group
	pause  *pause

	stop     chan struct{}
	stopOnce sync.Once
	workers  sync.WaitGroup
	hctx     context.Context
	cancel   context.CancelFunc

	inFlight                                     atomic.Int64
	handled, retries, deadLettered, redeliveries atomic.Uint64
	outageRetries, pauses                        atomic.Uint64
}

// loadBlocks holds the group of every unresolved dead letter of the
// subscription (strict mode, at start).
func (s *subscription) loadBlocks(ctx context.Context) error {
	return s.bus.scanDeadLetters(ctx, s.cfg.Name, 0, func(d bus.DeadLetter) bool {
		if d.Group == "" || PartitionOf(d.Group, s.bus.cfg.Partitions) != s.partition {
			return true // another partition's group
		}
		g := s.groups[d.Group]
		if g == nil {
			g = &group{key: d.Group}
			s.groups[d.Group] = g
		}
		if g.blockedBy == nil {
			g.blockedBy = map[uint64]uint64{}
		}
		g.blockedBy[d.ID] = d.OriginalSeq
		return true
	})
}

// receive is the consume callback: it files the message behind its group
// and never blocks (the consumer's MaxAckPending bounds what arrives).
func (s *subscription) receive(m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		s.log.Error("message without metadata", "err", err)
		return
	}
	if s.gap(meta.Sequence.Consumer) {
		return // left unacknowledged: the reset hands it over again, in order
	}
	if meta.NumDelivered > 1 {
		s.redeliveries.Add(1)
	}
	hdr := m.Headers()
	var (
		replayOf uint64
		skip     bool
	)
	if target := hdr.Get(HeaderReplayFor); target != "" {
		// A replay for another subscription is not ours to handle: it
		// passes through its group unseen by the handler.
		skip = target != s.cfg.Name
		if !skip {
			replayOf, _ = strconv.ParseUint(hdr.Get(HeaderReplayOf), 10, 64)
		}
	}
	seq := meta.Sequence.Stream
	key := hdr.Get(HeaderGroup)
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
	g := s.groups[key]
	if g != nil && g.holds(seq) {
		// The dead-lettered message itself, back after a crash before its
		// ack: it is in the dead-letter stream already.
		s.mu.Unlock()
		_ = m.Ack()
		return
	}
	h := &held{msg: m, seq: seq, published: meta.Timestamp, replayOf: replayOf, skip: skip}
	s.held[seq] = h
	if g == nil {
		g = &group{key: key}
		s.groups[key] = g
	}
	if _, ok := g.blockedBy[replayOf]; ok && replayOf != 0 {
		// Strict mode: the replay of the dead letter that holds the group
		// goes first, ahead of the messages it held (after any replay
		// already there, which may be in a worker's hands).
		delete(g.blockedBy, replayOf)
		h.jump = true
		i := 0
		for i < len(g.queue) && g.queue[i].jump {
			i++
		}
		g.queue = append(g.queue[:i], append([]*held{h}, g.queue[i:]...)...)
	} else {
		g.queue = append(g.queue, h)
	}
	schedule := !g.active && g.runnable()
	if schedule {
		g.active = true
	}
	s.mu.Unlock()
	if schedule {
		s.ready <- g
	}
}

// gap reports whether delivery number cseq (the consumer's sequence) comes
// after a delivery that never arrived, or after such a gap was seen. A
// delivery lost in transit (a consumer leader lost mid-send, a slow
// consumer's dropped messages) would otherwise come back only after its
// ack wait, behind later messages of its group. On the first gap the
// subscription stops queueing and asks to be restarted: the restart resets
// the consumer to its ack floor, so the lost message and everything after
// it come again in stream order. Numbers that go back (a new consumer
// leader sending again what its predecessor sent) are not gaps.
func (s *subscription) gap(cseq uint64) bool {
	if s.gapped.Load() {
		return true
	}
	last := s.lastCSeq
	s.lastCSeq = max(last, cseq)
	if last == 0 || cseq <= last+1 {
		return false
	}
	s.gapped.Store(true)
	s.log.Warn("delivery gap: a delivery was lost in transit; restarting from the ack floor", "after", last, "got", cseq)
	if s.onGap != nil {
		go s.onGap()
	}
	return true
}

// holds reports whether seq is a message dead-lettered with the group held.
func (g *group) holds(seq uint64) bool {
	for _, orig := range g.blockedBy {
		if orig == seq {
			return true
		}
	}
	return false
}

func (s *subscription) work() {
	defer s.workers.Done()
	for {
		select {
		case <-s.stop:
			return
		case g := <-s.ready:
			probe, ok := s.pause.wait(s.stop)
			if !ok {
				return
			}
			s.handle(g, probe)
		}
	}
}

// handle runs the handler on g's head message once, then acknowledges it and
// moves g on, or schedules the retry, or dead-letters; on Unavailable it
// pauses the subscription and puts g back without counting the attempt.
func (s *subscription) handle(g *group, probe bool) {
	if probe {
		defer s.pause.release() // if no handler call reported an outcome
	}
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
	if h.skip {
		s.done(g, h, 0)
		return
	}
	h.attempt++
	hdr := m.Headers()
	d := &bus.Delivery{
		Message: bus.Message{
			ID:      hdr.Get(jetstream.MsgIDHeader),
			Subject: s.bus.relativeSubject(m.Subject()),
			Group:   g.key,
			Data:    m.Data(),
		},
		Seq:       h.seq,
		Attempt:   h.attempt,
		Published: h.published,
	}
	if id := hdr.Get(HeaderOriginalID); id != "" {
		d.ID = id // a replay: the handler sees the original message's ID
	}
	s.inFlight.Add(1)
	err := s.call(d)
	s.inFlight.Add(-1)
	unavailable := err != nil && bus.IsUnavailable(err)
	if p, first := s.pause.report(probe, unavailable); p > 0 {
		s.pauses.Add(1)
		if first {
			s.log.Warn("dependency unavailable: subscription paused", "pause", p, "seq", h.seq, "err", err)
		} else {
			s.log.Debug("dependency still unavailable", "pause", p, "seq", h.seq, "err", err)
		}
	} else if probe && !unavailable {
		s.log.Info("dependency back: subscription resumed", "seq", h.seq)
	}
	var reason string
	switch {
	case err == nil:
		s.handled.Add(1)
	case unavailable:
		h.attempt-- // the message is not at fault
		s.outageRetries.Add(1)
		select {
		case s.ready <- g: // the pause gates it
		case <-s.stop:
		}
		return
	case bus.IsPermanent(err):
		reason = bus.ReasonPermanent
	case h.attempt >= s.cfg.MaxAttempts:
		reason = bus.ReasonMaxAttempts
	case s.cfg.MaxAge > 0 && time.Since(h.published) >= s.cfg.MaxAge:
		reason = bus.ReasonMaxAge
	default:
		s.retries.Add(1)
		s.log.Debug("handler failed; retrying", "seq", h.seq, "group", g.key, "attempt", h.attempt, "err", err)
		s.retryLater(g, h.attempt)
		return
	}
	var dlID uint64
	if reason != "" {
		var dlErr error
		dlID, dlErr = s.bus.publishDeadLetter(s.hctx, s.cfg.Name, m, h.seq, h.published, h.attempt, reason, err)
		if dlErr != nil {
			// The dead-letter stream is unavailable: keep the message and
			// try again later rather than drop it.
			s.log.Error("dead-letter failed; will retry", "seq", h.seq, "err", dlErr)
			s.retryLater(g, h.attempt)
			return
		}
		s.deadLettered.Add(1)
		s.log.Warn("dead-lettered", "seq", h.seq, "group", g.key, "attempts", h.attempt, "reason", reason,
			"dead_letter", dlID, "hold_group", s.cfg.HoldOnDeadLetter, "err", err)
	}
	if h.replayOf != 0 {
		// Handled (or dead-lettered anew): the dead letter it replayed is
		// resolved. Deleted before the ack, so that a crash in between
		// finds no dead letter holding the group while the replay comes
		// back (and is absorbed by the handler's idempotency).
		s.resolve(h.replayOf)
	}
	var block uint64
	if reason != "" && s.cfg.HoldOnDeadLetter {
		block = dlID
	}
	s.done(g, h, block)
}

// done acknowledges g's head h and moves g on: to the back of the ready
// channel if it can run, else out of it. A non-zero block (strict mode)
// is the dead letter h just became, which now holds the group.
func (s *subscription) done(g *group, h *held, block uint64) {
	s.ack(h)
	s.mu.Lock()
	g.queue[0] = nil
	g.queue = g.queue[1:]
	delete(s.held, h.seq)
	if block != 0 {
		if g.blockedBy == nil {
			g.blockedBy = map[uint64]uint64{}
		}
		g.blockedBy[block] = h.seq
	}
	next := g.runnable()
	if !next {
		g.active = false
		s.forgetLocked(g)
	}
	s.mu.Unlock()
	if next {
		s.ready <- g // to the back: groups take turns
	}
}

// forgetLocked drops an inactive group that has nothing left.
func (s *subscription) forgetLocked(g *group) {
	if !g.active && len(g.queue) == 0 && len(g.blockedBy) == 0 {
		delete(s.groups, g.key)
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

// resolve deletes the dead letter a handled replay came from.
func (s *subscription) resolve(id uint64) {
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(s.hctx, 5*time.Second)
		err := s.dlStream.DeleteMsg(ctx, id)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrMsgNotFound) {
			return
		}
		if try == 3 || s.hctx.Err() != nil {
			s.log.Error("replayed dead letter not deleted; discard it by hand", "dead_letter", id, "err", err)
			return
		}
	}
}

func (s *subscription) retryLater(g *group, attempt int) {
	s.mu.Lock()
	g.retrying = true
	s.mu.Unlock()
	time.AfterFunc(s.cfg.Backoff(attempt), func() {
		s.mu.Lock()
		g.retrying = false
		s.mu.Unlock()
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
		blocked := 0
		if s.cfg.HoldOnDeadLetter && len(s.held) >= s.cfg.MaxPending {
			for _, g := range s.groups {
				if len(g.blockedBy) > 0 {
					blocked++
				}
			}
		}
		s.mu.Unlock()
		if blocked > 0 {
			s.log.Error("strict mode: held events fill max pending; nothing new (replays included) is received "+
				"until dead letters are discarded", "held", len(msgs), "max_pending", s.cfg.MaxPending, "blocked_groups", blocked)
		}
		for _, m := range msgs {
			_ = m.InProgress()
		}
	}
}

// watchBlocks releases the groups whose dead letter was discarded (strict
// mode). A replayed dead letter is not released here: its replay arrives
// through the topic and releases the group by running first.
func (s *subscription) watchBlocks() {
	defer s.workers.Done()
	t := time.NewTicker(blockPoll)
	defer t.Stop()
	type block struct {
		g  *group
		id uint64
	}
	var blocks []block
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		blocks = blocks[:0]
		for _, g := range s.groups {
			for id := range g.blockedBy {
				blocks = append(blocks, block{g, id})
			}
		}
		s.mu.Unlock()
		for _, b := range blocks {
			ctx, cancel := context.WithTimeout(s.hctx, 5*time.Second)
			_, err := s.dlStream.GetMsg(ctx, b.id)
			cancel()
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				s.release(b.g, b.id)
			}
		}
	}
}

// release drops dead letter id from g's blocks and schedules g if it can
// run again.
func (s *subscription) release(g *group, id uint64) {
	s.mu.Lock()
	if _, ok := g.blockedBy[id]; !ok {
		s.mu.Unlock()
		return
	}
	delete(g.blockedBy, id)
	s.log.Info("dead letter resolved: group released", "group", g.key, "dead_letter", id)
	schedule := !g.active && g.runnable()
	if schedule {
		g.active = true
	}
	s.forgetLocked(g)
	s.mu.Unlock()
	if schedule {
		select {
		case s.ready <- g:
		case <-s.stop:
		}
	}
}

// Stop stops the partition (see bus.Subscription.Stop).
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

// Stats is the partition's snapshot.
func (s *subscription) Stats(ctx context.Context) bus.Stats {
	st := bus.Stats{
		Name:          s.cfg.Name,
		Handled:       s.handled.Load(),
		Retries:       s.retries.Load(),
		DeadLettered:  s.deadLettered.Load(),
		Redeliveries:  s.redeliveries.Load(),
		OutageRetries: s.outageRetries.Load(),
		Pauses:        s.pauses.Load(),
		Paused:        s.pause.active(),
		InFlight:      int(s.inFlight.Load()),
		Lag:           -1,
		Pending:       -1,
	}
	now := time.Now()
	s.mu.Lock()
	st.Held, st.Groups = len(s.held), len(s.groups)
	for _, g := range s.groups {
		if g.retrying {
			st.Retrying++
		}
		if len(g.blockedBy) > 0 {
			st.Blocked++
		}
	}
	for _, h := range s.held {
		if age := now.Sub(h.published); age > st.OldestUnacked {
			st.OldestUnacked = age
		}
	}
	s.mu.Unlock()
	if info, err := s.cons.Info(ctx); err == nil {
		st.Lag = int64(info.NumPending)
		st.Pending = int64(info.NumPending) + int64(info.NumAckPending)
	}
	return st
}

func trimPrefix(subject, prefix string) string {
	if len(subject) > len(prefix) && subject[:len(prefix)] == prefix && subject[len(prefix)] == '.' {
		return subject[len(prefix)+1:]
	}
	return subject
}
