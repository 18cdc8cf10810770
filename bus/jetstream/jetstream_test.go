package jetstream_test

import (
	"context"
	"testing"

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
