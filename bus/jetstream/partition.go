package jetstream

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orderlane/orderlane/bus"
)

// Partitioned FIFO groups across worker instances.
//
// The topic has a fixed number of partitions (Config.Partitions, set when
// the topic is created). A message's partition is a hash of its group, so
// every message of a group lands in the same partition; with more than one
// partition the partition is the first token of the subject
// ("orderlane.events.p7.shopee.order"). Each subscription has one durable
// consumer per partition, and each partition is owned by exactly one worker
// instance at a time, through a lease in the key-value bucket
// ORDERLANE_LEASES:
//
//   - every worker running the subscription heartbeats a member key
//     ("m.<stream>.<subscription>.<worker>") in the bucket, which expires
//     LeaseTTL after the last heartbeat;
//   - from the live members each worker computes its fair share (the
//     partitions over the workers, rounded up): a worker holding more
//     hands the surplus over, a worker holding less claims free
//     partitions. Ownership is sticky: nothing moves but to even out the
//     shares (a standby on a one-partition topic takes nothing from a live
//     owner), and rendezvous hashing picks which partitions move;
//   - a worker processes a partition only while it holds its lease
//     ("l.<stream>.<subscription>.<partition>", created with Create: first writer
//     wins), renewed with compare-and-set every LeaseTTL/4. A worker that
//     cannot renew for LeaseTTL/2 stops the partition at once, so it has
//     stopped well before the lease can expire and another worker take it;
//   - a worker hands a partition over by stopping it (handlers in flight
//     finish and are acknowledged), then deleting the lease at the revision
//     it holds; the next owner creates the lease and resets the consumer to
//     its ack floor, so whatever the previous owner left unacknowledged
//     comes first and in order. A worker that died holds its leases until
//     they expire (LeaseTTL).
//
// One partition (the default) is the same design with one lease: two
// processes that share a topic and a subscription never consume it at the
// same time, which would break per-group order.
//
// What this does not guarantee: a worker frozen (a stop-the-world pause, a
// suspended VM) for longer than LeaseTTL/2 in the middle of a handler call
// can finish that call after another worker took the partition. The order
// store's per-order rules (duplicates by key, a status never moved back by
// an older update) make such a late apply harmless.

// Lease bucket key prefixes.
const (
	memberPrefix = "m."
	leasePrefix  = "l."
)

// PartitionOf is the partition, in [0, n), of a message group: FNV-1a of
// the group modulo n.
func PartitionOf(group string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(group))
	return int(h.Sum32() % uint32(n))
}

// partitionSubject is where a message of group goes.
func (b *Bus) partitionSubject(group, subject string) string {
	if b.cfg.Partitions <= 1 {
		return b.cfg.Subjects + "." + subject
	}
	return b.cfg.Subjects + ".p" + strconv.Itoa(PartitionOf(group, b.cfg.Partitions)) + "." + subject
}

// relativeSubject strips the topic prefix and, when partitioned, the
// partition token.
func (b *Bus) relativeSubject(subject string) string {
	s := trimPrefix(subject, b.cfg.Subjects)
	if b.cfg.Partitions > 1 && strings.HasPrefix(s, "p") {
		if _, rest, ok := strings.Cut(s, "."); ok {
			return rest
		}
	}
	return s
}

// consumerOf names partition p's durable consumer and filter subject.
func (b *Bus) consumerOf(cfg bus.SubscriptionConfig, p int) (durable, filter string) {
	if b.cfg.Partitions <= 1 {
		return cfg.Name, b.cfg.Subjects + "." + cfg.Filter
	}
	n := strconv.Itoa(p)
	return cfg.Name + "-p" + n, b.cfg.Subjects + ".p" + n + "." + cfg.Filter
}

// checkPartitions refuses a topic created with another partition count:
// messages already in it are on subjects the consumers would not match.
func checkPartitions(info *jetstream.StreamInfo, want int) error {
	if info == nil {
		return nil
	}
	have := 1
	if v, ok := info.Config.Metadata[metaPartitions]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			have = n
		}
	}
	if have != want {
		return fmt.Errorf("jetstream: stream %s was created with %d partition(s); this process is configured for %d "+
			"(the partition count is fixed when the topic is created: set it back, or create a new topic and drain the old one)",
			info.Config.Name, have, want)
	}
	return nil
}

const metaPartitions = "orderlane_partitions"

// leases returns the lease bucket, created on first use.
func (b *Bus) leases(ctx context.Context) (jetstream.KeyValue, error) {
	b.leaseOnce.Lock()
	defer b.leaseOnce.Unlock()
	if b.leaseKV != nil {
		return b.leaseKV, nil
	}
	// Workers starting together on a cluster all create the bucket at
	// once; the meta leader may answer some of them late. Creating is
	// idempotent, so a timed-out request is tried again.
	var kv jetstream.KeyValue
	var err error
	for try := 1; ; try++ {
		kv, err = b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      b.cfg.LeaseBucket,
			Description: "orderlane partition leases and worker heartbeats",
			History:     1,
			TTL:         b.cfg.LeaseTTL,
			Storage:     jetstream.FileStorage,
			Replicas:    b.cfg.Replicas,
		})
		if err == nil {
			break
		}
		retry := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
		if !retry || try == 5 || ctx.Err() != nil {
			return nil, fmt.Errorf("jetstream: lease bucket %s: %w", b.cfg.LeaseBucket, err)
		}
		b.cfg.Logger.Warn("lease bucket not created yet; trying again", "bucket", b.cfg.LeaseBucket, "try", try, "err", err)
		time.Sleep(time.Duration(try) * 200 * time.Millisecond)
	}
	b.leaseKV = kv
	return kv, nil
}

// takeLease creates the lease key for worker me (first writer wins), or
// takes back me's own lease from before a restart of the worker. It
// reports the revision held and whether it holds the lease; a lease held
// by another worker is not an error.
func takeLease(ctx context.Context, kv jetstream.KeyValue, key, me string) (rev uint64, held bool, err error) {
	rev, err = kv.Create(ctx, key, []byte(me))
	if errors.Is(err, jetstream.ErrKeyExists) {
		e, gerr := kv.Get(ctx, key)
		switch {
		case gerr == nil && string(e.Value()) == me:
			rev, err = kv.Update(ctx, key, []byte(me), e.Revision())
		case gerr == nil, errors.Is(gerr, jetstream.ErrKeyNotFound):
			return 0, false, nil // another worker's, or expired just now: next round
		default:
			return 0, false, fmt.Errorf("lease %s: %w", key, gerr)
		}
	}
	if err != nil {
		return 0, false, fmt.Errorf("take lease %s: %w", key, err)
	}
	return rev, true, nil
}

// leaseLost reports whether a lease whose renewal failed with err must be
// given up at once: another worker overwrote it, or it has not been
// renewed for half its TTL (it may expire before the next renewal).
func leaseLost(err error, renewedAt time.Time, ttl time.Duration) bool {
	var apiErr *jetstream.APIError
	overwritten := errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
	return overwritten || time.Since(renewedAt) > ttl/2
}

// score is worker m's rendezvous-hash score for partition p of
// subscription sub. SHA-256, not FNV: scores must not keep their order
// across partitions for similar worker names.
func score(m, sub string, p int) uint64 {
	sum := sha256.Sum256([]byte(m + "/" + sub + "/" + strconv.Itoa(p)))
	return binary.BigEndian.Uint64(sum[:8])
}

// owned is a partition this worker holds.
type owned struct {
	// mu serialises what stops or restarts the partition's subscription
	// (release, drop, restart after a delivery gap), so a restarted
	// consumer never runs after the lease was given up.
	mu        sync.Mutex
	sub       *subscription
	rev       uint64    // lease revision held
	renewedAt time.Time // when the last successful renewal was sent
}

// partitioned is a subscription spread over partitions and workers.
type partitioned struct {
	bus *Bus
	cfg bus.SubscriptionConfig
	h   bus.Handler
	kv  jetstream.KeyValue
	log *slog.Logger

	mu     sync.Mutex
	owned  map[int]*owned
	closed bool

	stop chan struct{}
	done chan struct{}
	// restarts counts the restarts after a delivery gap.
	restarts int
}

// Subscribe starts a durable subscription: on one worker, or shared by all
// workers that subscribe under the same name, each partition handled by
// one of them at a time (see the package's partition notes). It returns
// once this worker has claimed what it can claim now; partitions held by
// other workers come later, as leases move.
func (b *Bus) Subscribe(ctx context.Context, cfg bus.SubscriptionConfig, h bus.Handler) (bus.Subscription, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kv, err := b.leases(ctx)
	if err != nil {
		return nil, err
	}
	b.leaseOnce.Lock()
	if b.running[cfg.Name] {
		b.leaseOnce.Unlock()
		return nil, fmt.Errorf("jetstream: subscription %s is already running in this process", cfg.Name)
	}
	b.running[cfg.Name] = true
	b.leaseOnce.Unlock()
	p := &partitioned{bus: b, cfg: cfg, h: h, kv: kv, owned: map[int]*owned{},
		log:  b.cfg.Logger.With("subscription", cfg.Name, "worker", b.cfg.WorkerID),
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := p.start(ctx); err != nil {
		_ = p.Stop(context.Background())
		return nil, err
	}
	go p.loop(context.WithoutCancel(ctx))
	return p, nil
}

// loop runs a round every LeaseTTL/4 until Stop. ctx carries the values
// of Subscribe's context, not its cancellation: the subscription outlives
// the call that started it.
// start takes back this worker's leases from before a restart, and, on a
// partitioned topic, announces the worker and waits one round before
// claiming (up to a second), so that workers started together see each other and each
// claims only its share instead of the first one claiming everything and
// handing most of it over again.
func (p *partitioned) start(ctx context.Context) error {
	if err := p.retake(ctx); err != nil {
		return err
	}
	if p.bus.cfg.Partitions > 1 {
		if _, err := p.kv.Put(ctx, p.memberKey(), []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		t := time.NewTimer(min(p.bus.cfg.LeaseTTL/4, time.Second))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return p.round(ctx)
}

func (p *partitioned) loop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.bus.cfg.LeaseTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, p.bus.cfg.LeaseTTL/4)
			if err := p.round(rctx); err != nil {
				p.log.Warn("partition round", "err", err)
			}
			cancel()
		}
	}
}

// round heartbeats, renews the leases held, and balances: a worker holding
// more than its fair share (the partitions over the live workers, rounded
// up) hands the surplus over, and a worker holding less claims free
// partitions. Ownership is sticky: a partition moves only to even out the
// shares, so a standby joining a single-partition topic takes nothing, and
// a worker joining a partitioned one takes only its share. Among the
// partitions to give up or take, rendezvous hashing picks, so the
// assignment drifts toward the same layout whatever the joining order.
func (p *partitioned) round(ctx context.Context) error {
	b := p.bus
	me := b.cfg.WorkerID
	if _, err := p.kv.Put(ctx, p.memberKey(), []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		p.expire()
		return fmt.Errorf("heartbeat: %w", err)
	}
	members, err := p.members(ctx)
	if err != nil {
		p.expire()
		return err
	}
	if !slices.Contains(members, me) {
		members = append(members, me)
	}
	n := b.cfg.Partitions
	fair := (n + len(members) - 1) / len(members)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	held := make(map[int]*owned, len(p.owned))
	for part, o := range p.owned {
		held[part] = o
	}
	p.mu.Unlock()

	var errs []error
	for part, o := range held {
		if err := p.renew(ctx, part, o); err != nil {
			errs = append(errs, err)
			delete(held, part)
		}
	}
	// My partitions in the order I would give them up: lowest score first.
	mine := slices.Collect(maps.Keys(held))
	slices.SortFunc(mine, func(x, y int) int { return cmp.Compare(score(me, p.cfg.Name, x), score(me, p.cfg.Name, y)) })
	for len(mine) > fair {
		part := mine[0]
		mine = mine[1:]
		errs = append(errs, p.release(ctx, part, held[part], "evening out the shares"))
	}
	if len(mine) < fair {
		free, err := p.free(ctx)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		slices.SortFunc(free, func(x, y int) int { return cmp.Compare(score(me, p.cfg.Name, y), score(me, p.cfg.Name, x)) })
		for _, part := range free {
			if len(mine) >= fair {
				break
			}
			ok, err := p.claim(ctx, part)
			errs = append(errs, err)
			if ok {
				mine = append(mine, part)
			}
		}
	}
	return errors.Join(errs...)
}

// free lists the partitions that no worker holds a lease for.
func (p *partitioned) free(ctx context.Context) ([]int, error) {
	taken := map[int]bool{}
	prefix := leasePrefix + p.bus.cfg.Stream + "." + p.cfg.Name + "."
	lister, err := p.kv.ListKeysFiltered(ctx, prefix+"*")
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, fmt.Errorf("leases: %w", err)
	}
	if err == nil {
		for k := range lister.Keys() {
			if part, err := strconv.Atoi(strings.TrimPrefix(k, prefix)); err == nil {
				taken[part] = true
			}
		}
	}
	var out []int
	for part := range p.bus.cfg.Partitions {
		if !taken[part] {
			out = append(out, part)
		}
	}
	return out, nil
}

// retake claims, at start, the partitions whose leases this worker still
// holds from before a restart (same worker id), whatever the shares: the
// next rounds even them out.
func (p *partitioned) retake(ctx context.Context) error {
	var errs []error
	for part := range p.bus.cfg.Partitions {
		e, err := p.kv.Get(ctx, p.leaseKey(part))
		if err != nil || string(e.Value()) != p.bus.cfg.WorkerID {
			continue
		}
		_, err = p.claim(ctx, part)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// members lists the workers with a live heartbeat.
func (p *partitioned) members(ctx context.Context) ([]string, error) {
	prefix := memberPrefix + p.bus.cfg.Stream + "." + p.cfg.Name + "."
	lister, err := p.kv.ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("members: %w", err)
	}
	var out []string
	for k := range lister.Keys() {
		out = append(out, strings.TrimPrefix(k, prefix))
	}
	slices.Sort(out)
	return out, nil
}

func (p *partitioned) leaseKey(part int) string {
	return leasePrefix + p.bus.cfg.Stream + "." + p.cfg.Name + "." + strconv.Itoa(part)
}

func (p *partitioned) memberKey() string {
	return memberPrefix + p.bus.cfg.Stream + "." + p.cfg.Name + "." + p.bus.cfg.WorkerID
}

// claim takes partition part if its lease is free (or still ours from a
// previous run of this worker) and starts consuming it. It reports whether
// it did.
func (p *partitioned) claim(ctx context.Context, part int) (bool, error) {
	key := p.leaseKey(part)
	sent := time.Now()
	rev, held, err := takeLease(ctx, p.kv, key, p.bus.cfg.WorkerID)
	if !held {
		return false, err
	}
	s, err := p.bus.subscribe(ctx, p.partCfg(), p.h, part, p.onGap(part))
	if err != nil {
		_ = p.kv.Delete(context.Background(), key, jetstream.LastRevision(rev))
		return false, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = s.Stop(context.Background())
		_ = p.kv.Delete(context.Background(), key, jetstream.LastRevision(rev))
		return false, nil
	}
	p.owned[part] = &owned{sub: s, rev: rev, renewedAt: sent}
	p.mu.Unlock()
	p.log.Info("partition claimed", "partition", part)
	return true, nil
}

// partCfg is the configuration of one partition's subscription: the
// memory bound is shared by the partitions.
func (p *partitioned) partCfg() bus.SubscriptionConfig {
	cfg := p.cfg
	if n := p.bus.cfg.Partitions; n > 1 {
		cfg.MaxPending = max(cfg.MaxPending/n, 64)
	}
	return cfg
}

// onGap returns partition part's gap callback: stop the subscription and
// start it again, which resets the consumer to its ack floor, while the
// lease is still held.
func (p *partitioned) onGap(part int) func(*subscription) {
	return func(old *subscription) {
		p.mu.Lock()
		o := p.owned[part]
		p.mu.Unlock()
		if o == nil {
			return
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		p.mu.Lock()
		current := p.owned[part] == o && o.sub == old && !p.closed
		p.mu.Unlock()
		if !current {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.bus.cfg.LeaseTTL/4)
		_ = old.Stop(ctx)
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), p.bus.cfg.LeaseTTL/2)
		s, err := p.bus.subscribe(ctx, p.partCfg(), p.h, part, p.onGap(part))
		cancel()
		p.mu.Lock()
		if err != nil || p.owned[part] != o || p.closed {
			// Give the partition up; the next round claims it again.
			if p.owned[part] == o {
				delete(p.owned, part)
			}
			p.mu.Unlock()
			if s != nil {
				_ = s.Stop(context.Background())
			}
			_ = p.kv.Delete(context.Background(), p.leaseKey(part), jetstream.LastRevision(o.rev))
			p.log.Warn("partition restart after a delivery gap failed; released", "partition", part, "err", err)
			return
		}
		o.sub = s
		p.restarts++
		p.mu.Unlock()
		p.log.Info("partition restarted from its ack floor after a delivery gap", "partition", part)
	}
}

// renew extends a held lease. A lease another worker overwrote, or one not
// renewed for LeaseTTL/2, stops the partition at once.
func (p *partitioned) renew(ctx context.Context, part int, o *owned) error {
	sent := time.Now()
	rev, err := p.kv.Update(ctx, p.leaseKey(part), []byte(p.bus.cfg.WorkerID), o.rev)
	if err == nil {
		p.mu.Lock()
		o.rev, o.renewedAt = rev, sent
		p.mu.Unlock()
		return nil
	}
	if leaseLost(err, o.renewedAt, p.bus.cfg.LeaseTTL) {
		p.drop(part, o, "lease lost")
	}
	return fmt.Errorf("renew %s: %w", p.leaseKey(part), err)
}

// expire stops every partition whose lease was not renewed for
// LeaseTTL/2 (the bucket is unreachable).
func (p *partitioned) expire() {
	p.mu.Lock()
	var late []int
	for part, o := range p.owned {
		if time.Since(o.renewedAt) > p.bus.cfg.LeaseTTL/2 {
			late = append(late, part)
		}
	}
	p.mu.Unlock()
	for _, part := range late {
		p.mu.Lock()
		o := p.owned[part]
		p.mu.Unlock()
		if o != nil {
			p.drop(part, o, "lease not renewed")
		}
	}
}

// drop stops a partition at once (handlers in flight are cancelled),
// without touching the lease: it is not ours any more.
func (p *partitioned) drop(part int, o *owned, why string) {
	p.mu.Lock()
	if p.owned[part] != o {
		p.mu.Unlock()
		return
	}
	delete(p.owned, part)
	p.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = o.sub.Stop(ctx)
	p.log.Warn("partition stopped", "partition", part, "reason", why)
}

// release hands a partition over: stop consuming (handlers in flight
// finish within LeaseTTL/4), then delete the lease at the revision held.
func (p *partitioned) release(ctx context.Context, part int, o *owned, why string) error {
	p.mu.Lock()
	if p.owned[part] != o {
		p.mu.Unlock()
		return nil
	}
	delete(p.owned, part)
	p.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, p.bus.cfg.LeaseTTL/4)
	_ = o.sub.Stop(sctx)
	cancel()
	p.log.Info("partition released", "partition", part, "reason", why)
	if err := p.kv.Delete(ctx, p.leaseKey(part), jetstream.LastRevision(o.rev)); err != nil {
		return fmt.Errorf("release %s: %w", p.leaseKey(part), err)
	}
	return nil
}

// Stop implements bus.Subscription: every partition is stopped (handlers
// in flight finish until ctx is done) and its lease released, so other
// workers take over at once; the heartbeat is withdrawn.
func (p *partitioned) Stop(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	parts := make(map[int]*owned, len(p.owned))
	for k, v := range p.owned {
		parts[k] = v
	}
	p.owned = map[int]*owned{}
	p.mu.Unlock()
	close(p.stop)
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for part, o := range parts {
		wg.Go(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			err := o.sub.Stop(ctx)
			if err == nil {
				dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err = p.kv.Delete(dctx, p.leaseKey(part), jetstream.LastRevision(o.rev))
				cancel()
			}
			if err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	select {
	case <-p.done:
	case <-ctx.Done():
	}
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = p.kv.Delete(dctx, p.memberKey())
	cancel()
	p.bus.leaseOnce.Lock()
	delete(p.bus.running, p.cfg.Name)
	p.bus.leaseOnce.Unlock()
	return errors.Join(errs...)
}

// Stats implements bus.Subscription: the sum over the partitions this
// worker holds.
func (p *partitioned) Stats(ctx context.Context) bus.Stats {
	p.mu.Lock()
	subs := make([]*subscription, 0, len(p.owned))
	for _, o := range p.owned {
		subs = append(subs, o.sub)
	}
	p.mu.Unlock()
	st := bus.Stats{Name: p.cfg.Name, Partitions: len(subs)}
	if len(subs) == 0 {
		st.Lag, st.Pending = -1, -1
	}
	for _, s := range subs {
		x := s.Stats(ctx)
		st.Handled += x.Handled
		st.Retries += x.Retries
		st.DeadLettered += x.DeadLettered
		st.Redeliveries += x.Redeliveries
		st.OutageRetries += x.OutageRetries
		st.Pauses += x.Pauses
		st.Paused = st.Paused || x.Paused
		st.Held += x.Held
		st.Groups += x.Groups
		st.InFlight += x.InFlight
		st.Retrying += x.Retrying
		st.Blocked += x.Blocked
		st.OldestUnacked = max(st.OldestUnacked, x.OldestUnacked)
		if x.Lag < 0 || st.Lag < 0 {
			st.Lag = -1
		} else {
			st.Lag += x.Lag
		}
		if x.Pending < 0 || st.Pending < 0 {
			st.Pending = -1
		} else {
			st.Pending += x.Pending
		}
	}
	return st
}

// Owned returns the partitions this worker holds, sorted (for tests and
// the admin API).
func (p *partitioned) Owned() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int, 0, len(p.owned))
	for k := range p.owned {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
