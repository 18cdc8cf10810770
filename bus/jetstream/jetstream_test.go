package jetstream_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/bustest"
	js "github.com/orderlane/orderlane/bus/jetstream"
)

type driver struct{ *js.Bus }

func (d driver) DeadLetters(ctx context.Context, name string) ([]bustest.DeadLetter, error) {
	dls, _, err := d.ListDeadLetters(ctx, bus.DeadLetterFilter{Subscription: name, Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := make([]bustest.DeadLetter, 0, len(dls))
	for _, dl := range dls {
		out = append(out, bustest.DeadLetter{
			ID: dl.ID, Data: dl.Data, Group: dl.Group, Error: dl.Error, Reason: dl.Reason, Attempts: dl.Attempts,
		})
	}
	return out, nil
}

func newEmbedded(t *testing.T) *js.Embedded {
	t.Helper()
	e, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestConformanceEmbedded(t *testing.T) {
	t.Parallel()
	bustest.Run(t, bustest.Features{
		Dedup: true, Restart: true, MaxAge: true, Pause: true, Replay: true, HoldGroup: true,
	}, func(t *testing.T) bustest.Driver {
		e := newEmbedded(t)
		b, err := js.New(context.Background(), e.Conn, js.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return driver{b}
	})
}

// TestPublishRequiresGroup: a message without a group could not be ordered.
func TestPublishRequiresGroup(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t)
	b, err := js.New(context.Background(), e.Conn, js.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(context.Background(), bus.Message{Subject: "x", Data: []byte("1")}); err == nil {
		t.Fatal("publish without group: want error")
	}
}

// TestNewIsIdempotent: a second start against existing streams succeeds and
// keeps the messages.
func TestNewIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t)
	ctx := context.Background()
	b, err := js.New(ctx, e.Conn, js.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, bus.Message{ID: "1", Subject: "a.order", Group: "g", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	b2, err := js.New(ctx, e.Conn, js.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b2.JetStream().Stream(ctx, b2.Config().Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages after second New, want 1", info.State.Msgs)
	}
}

// TestRestartWritesNoSecondDeadLetter: a restart hands over again what
// lies after the ack floor, a dead-lettered message included; its second
// failure, long after the topic's dedup window, writes no second dead
// letter.
func TestRestartWritesNoSecondDeadLetter(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t)
	ctx := context.Background()
	b, err := js.New(ctx, e.Conn, js.Config{DuplicateWindow: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var poisonCalls atomic.Int32
	cfg := bus.SubscriptionConfig{Name: "orders", MaxAttempts: 1000, BackoffMin: time.Hour, BackoffMax: time.Hour}
	handler := func(ctx context.Context, d *bus.Delivery) error {
		switch d.Group {
		case "stuck": // holds the ack floor below the poison
			return errors.New("not yet")
		case "poison":
			poisonCalls.Add(1)
			return bus.Permanent(errors.New("rejected"))
		}
		return nil
	}
	for _, g := range []string{"stuck", "poison"} {
		if _, err := b.Publish(ctx, bus.Message{ID: g, Subject: "a.order", Group: g, Data: []byte(g)}); err != nil {
			t.Fatal(err)
		}
	}
	dead := func() int {
		dls, _, err := b.ListDeadLetters(ctx, bus.DeadLetterFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(dls)
	}
	for run := 1; run <= 2; run++ {
		s, err := b.Subscribe(ctx, cfg, handler)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for poisonCalls.Load() < int32(run) || dead() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("run %d: poison not handled", run)
			}
			time.Sleep(10 * time.Millisecond) // poll interval
		}
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if run == 1 {
			time.Sleep(1500 * time.Millisecond) // past the topic's 1s dedup window: the point of the test
		}
	}
	if n := dead(); n != 1 {
		t.Fatalf("%d dead letters after the poison failed in two runs, want 1", n)
	}
}
