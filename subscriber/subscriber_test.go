package subscriber_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the second connection that locks the database

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/sqlite"
	"github.com/orderlane/orderlane/subscriber"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// bundle is a real pipeline below the gateway: embedded JetStream and a
// SQLite order store.
type bundle struct {
	bus    *jetstream.Bus
	store  *sqlite.Store
	dbPath string
}

func setup(t *testing.T, busy time.Duration) *bundle {
	t.Helper()
	dir := t.TempDir()
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: filepath.Join(dir, "js")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	b, err := jetstream.New(context.Background(), e.Conn, jetstream.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "o.db")
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, Synchronous: "NORMAL", BusyTimeout: busy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &bundle{bus: b, store: st, dbPath: path}
}

// subscribe runs the orders subscription over repo until the test ends.
func (b *bundle) subscribe(t *testing.T, cfg bus.SubscriptionConfig, repo order.Repository) bus.Subscription {
	t.Helper()
	cfg.Name, cfg.Filter = subscriber.OrdersName, subscriber.OrdersFilter
	s, err := b.bus.Subscribe(context.Background(), cfg, subscriber.NewOrders(repo, quiet, nil).Handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

var lifecycle = []struct {
	raw    string
	status order.Status
}{{"UNPAID", order.StatusUnpaid}, {"READY_TO_SHIP", order.StatusReadyToShip}, {"SHIPPED", order.StatusShipped}}

var base = time.Now().Add(-48 * time.Hour).Truncate(time.Second)

// event is step of order id's lifecycle, as the gateway appends it.
func event(id string, step int) *order.Event {
	return &order.Event{
		Platform: order.Shopee, ShopID: "1001", OrderID: id, Kind: order.KindStatus, PushType: "3",
		PlatformStatus: lifecycle[step].raw, Status: lifecycle[step].status,
		UpdateTime: base.Add(time.Duration(step) * time.Minute), Key: fmt.Sprintf("%s-%d", id, step),
		ReceivedAt: time.Now(), Payload: []byte(`{}`),
	}
}

func (b *bundle) publish(t *testing.T, e *order.Event) {
	t.Helper()
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.bus.Publish(context.Background(), bus.Message{
		ID: e.Key, Subject: string(e.Platform) + ".order", Group: e.Group(), Data: data,
	}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

func key(id string) order.Key { return order.Key{Platform: order.Shopee, ShopID: "1001", OrderID: id} }

// history is the keys of the order's events in processing order.
func history(t *testing.T, st *sqlite.Store, id string) []string {
	t.Helper()
	evs, err := st.Events(context.Background(), key(id))
	if errors.Is(err, order.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Key
	}
	return out
}

// rejecting is the store with a bug that rejects one event as invalid
// until it is fixed.
type rejecting struct {
	order.Repository
	key   string
	fixed atomic.Bool
}

func (r *rejecting) Apply(ctx context.Context, e *order.Event) (order.ApplyResult, error) {
	if e.Key == r.key && !r.fixed.Load() {
		return order.ApplyResult{}, fmt.Errorf("%w: rejected by a bug", order.ErrInvalidEvent)
	}
	return r.Repository.Apply(ctx, e)
}

// TestPoisonDeadLetteredWhile1000OrdersFinishThenReplayAppliesInOrder is
// poison isolation end to end on the real broker and store: an order
// event the store rejects permanently goes to the dead-letter stream at
// its first attempt while 1,000 other orders are applied; with
// HoldOnDeadLetter its order's later events wait; once the bug is fixed,
// a replay applies it, and its order's events in their original order.
func TestPoisonDeadLetteredWhile1000OrdersFinishThenReplayAppliesInOrder(t *testing.T) {
	t.Parallel()
	const orders = 1000
	b := setup(t, 0)
	repo := &rejecting{Repository: b.store, key: "POISON-0"}
	s := b.subscribe(t, bus.SubscriptionConfig{Concurrency: 16, MaxAttempts: 8, HoldOnDeadLetter: true}, repo)
	for step := range 3 {
		b.publish(t, event("POISON", step))
	}
	for step := range 2 {
		for i := range orders {
			b.publish(t, event(fmt.Sprintf("O%04d", i), step))
		}
	}
	ctx := context.Background()
	waitFor(t, "the 1,000 other orders", 60*time.Second, func() bool { return s.Stats(ctx).Handled >= 2*orders })
	for i := range orders {
		id := fmt.Sprintf("O%04d", i)
		if got := history(t, b.store, id); len(got) != 2 || got[0] != id+"-0" || got[1] != id+"-1" {
			t.Fatalf("order %s: history %v", id, got)
		}
	}
	dls, _, err := b.bus.ListDeadLetters(ctx, bus.DeadLetterFilter{Subscription: subscriber.OrdersName})
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].Group != "shopee:1001:POISON" || dls[0].Reason != bus.ReasonPermanent || dls[0].Attempts != 1 {
		t.Fatalf("dead letters: %+v, want the poison event alone, permanent, after one attempt", dls)
	}
	if got := history(t, b.store, "POISON"); len(got) != 0 {
		t.Fatalf("poison order applied %v while its dead letter was unresolved", got)
	}
	repo.fixed.Store(true)
	if _, err := b.bus.ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the poison order", 20*time.Second, func() bool { return len(history(t, b.store, "POISON")) == 3 })
	if got := history(t, b.store, "POISON"); got[0] != "POISON-0" || got[1] != "POISON-1" || got[2] != "POISON-2" {
		t.Errorf("poison order history %v, want its events in order", got)
	}
	if o, err := b.store.Get(ctx, key("POISON")); err != nil || o.Status != order.StatusShipped {
		t.Errorf("poison order: %+v, %v; want shipped", o, err)
	}
	waitFor(t, "the dead letter to be resolved", 10*time.Second, func() bool {
		dls, _, err := b.bus.ListDeadLetters(ctx, bus.DeadLetterFilter{})
		return err == nil && len(dls) == 0
	})
}

// TestReplayAfterGroupMovedOnNeverMovesStatusBack: without
// HoldOnDeadLetter the order moves on past its dead letter; the replay is
// applied last, kept in the history, and the status stays the newest.
func TestReplayAfterGroupMovedOnNeverMovesStatusBack(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	repo := &rejecting{Repository: b.store, key: "P-0"}
	s := b.subscribe(t, bus.SubscriptionConfig{Concurrency: 4}, repo)
	for step := range 3 {
		b.publish(t, event("P", step))
	}
	ctx := context.Background()
	waitFor(t, "the later events", 20*time.Second, func() bool { return len(history(t, b.store, "P")) == 2 })
	dls, _, err := b.bus.ListDeadLetters(ctx, bus.DeadLetterFilter{Group: "shopee:1001:P"})
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters: %+v, %v", dls, err)
	}
	repo.fixed.Store(true)
	if _, err := b.bus.ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay", 20*time.Second, func() bool { return len(history(t, b.store, "P")) == 3 })
	evs, err := b.store.Events(ctx, key("P"))
	if err != nil {
		t.Fatal(err)
	}
	if evs[2].Key != "P-0" || !evs[2].Stale || evs[2].StatusChanged {
		t.Errorf("replayed event: %+v, want it last, stale, not moving the status", evs[2])
	}
	if o, _ := b.store.Get(ctx, key("P")); o.Status != order.StatusShipped {
		t.Errorf("status %s after the replay, want shipped", o.Status)
	}
	if st := s.Stats(ctx); st.DeadLettered != 1 {
		t.Errorf("dead-lettered %d, want 1", st.DeadLettered)
	}
}

// TestLockedStorePausesWithoutDeadLetters: while another connection holds
// the SQLite lock (as a long migration or a backup would), the orders
// subscription pauses and probes instead of burning attempts; with
// MaxAttempts 2 nothing is dead-lettered, and once the lock is released
// every event is applied, in order.
func TestLockedStorePausesWithoutDeadLetters(t *testing.T) {
	t.Parallel()
	const orders = 100
	b := setup(t, 20*time.Millisecond)
	ctx := context.Background()
	other, err := sql.Open("sqlite", "file:"+b.dbPath)
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
	s := b.subscribe(t, bus.SubscriptionConfig{
		Concurrency: 8, MaxAttempts: 2, BackoffMin: 10 * time.Millisecond, PauseMax: 100 * time.Millisecond,
	}, b.store)
	for step := range 2 {
		for i := range orders {
			b.publish(t, event(fmt.Sprintf("L%03d", i), step))
		}
	}
	waitFor(t, "the subscription to pause on the locked store", 20*time.Second, func() bool {
		st := s.Stats(ctx)
		return st.Paused && st.OutageRetries >= 5
	})
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every event after the lock is released", 30*time.Second, func() bool {
		return s.Stats(ctx).Handled >= 2*orders
	})
	for i := range orders {
		id := fmt.Sprintf("L%03d", i)
		if got := history(t, b.store, id); len(got) != 2 || got[0] != id+"-0" || got[1] != id+"-1" {
			t.Errorf("order %s: history %v", id, got)
		}
	}
	st := s.Stats(ctx)
	if st.DeadLettered != 0 || st.Paused || st.Pauses == 0 {
		t.Errorf("stats after the outage: %+v; want paused at least once, resumed, nothing dead-lettered", st)
	}
	if dls, _, err := b.bus.ListDeadLetters(ctx, bus.DeadLetterFilter{}); err != nil || len(dls) != 0 {
		t.Errorf("dead letters after a store outage: %+v, %v", dls, err)
	}
}

// TestOrdersClassifiesFailures: what the handler tells the subscription.
func TestOrdersClassifiesFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	h := subscriber.NewOrders(b.store, quiet, nil)
	ctx := context.Background()
	deliver := func(e *order.Event) error {
		data, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return h.Handle(ctx, &bus.Delivery{Message: bus.Message{Data: data}, Seq: 1, Attempt: 1})
	}
	future := event("F", 0)
	future.UpdateTime = future.ReceivedAt.Add(order.MaxFutureSkew + time.Hour)
	if err := deliver(future); !bus.IsPermanent(err) || !errors.Is(err, order.ErrInvalidEvent) {
		t.Errorf("event from the future: %v, want permanent (invalid)", err)
	}
	if err := h.Handle(ctx, &bus.Delivery{Message: bus.Message{Data: []byte("{not json")}, Seq: 2}); !bus.IsPermanent(err) {
		t.Errorf("undecodable event: %v, want permanent", err)
	}
	if err := deliver(event("OK", 0)); err != nil {
		t.Errorf("valid event: %v", err)
	}
	b.store.Close()
	if err := deliver(event("OK", 1)); !bus.IsUnavailable(err) {
		t.Errorf("closed store: %v, want unavailable", err)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err                    error
		permanent, unavailable bool
	}{
		{fmt.Errorf("x: %w", order.ErrUnavailable), false, true},
		{fmt.Errorf("x: %w", order.ErrInvalidEvent), true, false},
		{fmt.Errorf("x: %w", order.ErrRejected), true, false},
		{errors.New("timeout"), false, false},
	} {
		got := subscriber.Classify(c.err)
		if bus.IsPermanent(got) != c.permanent || bus.IsUnavailable(got) != c.unavailable || !errors.Is(got, c.err) {
			t.Errorf("Classify(%v): permanent %v, unavailable %v", c.err, bus.IsPermanent(got), bus.IsUnavailable(got))
		}
	}
	if subscriber.Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
}
