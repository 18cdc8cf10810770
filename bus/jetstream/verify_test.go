package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	js "github.com/orderlane/orderlane/bus/jetstream"
)

// store is a data directory holding stream S: 100 messages of ~1 KB in
// 32 KB blocks (1.blk to 4.blk), written and cleanly shut down.
type store struct {
	t    *testing.T
	dir  string
	msgs string // S's msgs directory
}

func newStore(t *testing.T) *store {
	t.Helper()
	s := &store{t: t, dir: t.TempDir()}
	s.msgs = filepath.Join(s.dir, "jetstream", "$G", "streams", "S", "msgs")
	e := s.start()
	jsc, err := jetstream.New(e.Conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := jsc.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, MaxBytes: 120_000}); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := jsc.Publish(ctx, "s.x", payload(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	return s
}

func payload(seq int) []byte { return fmt.Appendf(nil, "message %04d %0900d", seq, seq) }

func (s *store) start() *js.Embedded {
	s.t.Helper()
	e, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: s.dir})
	if err != nil {
		s.t.Fatal(err)
	}
	return e
}

func (s *store) block(i int) string { return filepath.Join(s.msgs, fmt.Sprintf("%d.blk", i)) }

// edit rewrites a block file through f.
func (s *store) edit(i int, f func([]byte) []byte) {
	s.t.Helper()
	b, err := os.ReadFile(s.block(i))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(s.block(i), f(b), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// messages returns the sequences stream S serves, checking their data.
func (s *store) messages(e *js.Embedded) []uint64 {
	s.t.Helper()
	jsc, _ := jetstream.New(e.Conn)
	st, err := jsc.Stream(context.Background(), "S")
	if err != nil {
		s.t.Fatal(err)
	}
	var seqs []uint64
	for seq := uint64(1); seq <= 100; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			s.t.Fatal(err)
		}
		if string(m.Data) != string(payload(int(seq))) {
			s.t.Fatalf("seq %d serves wrong data", seq)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func TestVerifyStoreClean(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	rep, err := js.VerifyStore(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Streams != 1 || rep.Blocks != 4 || rep.Records != 100 || len(rep.TornTails) != 0 {
		t.Fatalf("report %+v, want 1 stream, 4 blocks, 100 records, no torn tail", rep)
	}
}

// TestStartRefusesFlippedBit: one flipped bit in an old block stops the
// start with an error naming the file, where nats-server alone would drop
// the record silently. Moving the block aside (the documented way to
// accept the loss) starts again, without the block's messages.
func TestStartRefusesFlippedBit(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	s.edit(1, func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })
	_, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: s.dir})
	var ce *js.CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, js.ErrCorrupt) {
		t.Fatalf("start on a flipped bit: %v, want a CorruptError", err)
	}
	if ce.File != s.block(1) || ce.Stream != "S" || ce.ValidAfter == 0 || ce.LastSeq == 0 {
		t.Fatalf("error %+v: want block 1 of S named, with the intact records after the damage", ce)
	}
	t.Log(err)
	if err := os.Rename(s.block(1), filepath.Join(s.dir, "1.blk.damaged")); err != nil {
		t.Fatal(err)
	}
	e := s.start()
	defer e.Close()
	seqs := s.messages(e)
	if len(seqs) == 0 || int(seqs[0]) != int(ce.LastSeq)+1 || seqs[len(seqs)-1] != 100 {
		t.Fatalf("after moving block 1 aside the stream serves %d messages from %v; want %d..100", len(seqs), seqs[:1], ce.LastSeq+1)
	}
}

// TestStartRefusesBadLength: damage to a record's length field, where the
// next record cannot be found by length, is found by its sequence.
func TestStartRefusesBadLength(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	s.edit(2, func(b []byte) []byte { b[0] ^= 0x40; return b }) // the first record's length
	_, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: s.dir})
	var ce *js.CorruptError
	if !errors.As(err, &ce) || ce.File != s.block(2) || ce.Offset != 0 || ce.ValidAfter == 0 {
		t.Fatalf("start on a damaged length: %v, want a CorruptError at byte 0 of block 2 with intact records after", err)
	}
}

// TestStartAcceptsTornTail: a record cut short at the end of the newest
// block is what a power loss leaves; the start goes on and the server
// drops it.
func TestStartAcceptsTornTail(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	os.Remove(filepath.Join(s.msgs, "index.db")) // as after a crash
	s.edit(4, func(b []byte) []byte { return b[:len(b)-100] })
	rep, err := js.VerifyStore(s.dir)
	if err != nil || len(rep.TornTails) != 1 {
		t.Fatalf("verify: %v, %d torn tails; want one", err, len(rep.TornTails))
	}
	e := s.start()
	defer e.Close()
	seqs := s.messages(e)
	if len(seqs) != 99 || seqs[98] != 99 {
		t.Fatalf("the stream serves %d messages; want 1..99", len(seqs))
	}
}

// TestStartRefusesTornOldBlock: a cut-short record in a block older than
// the two newest was not an interrupted write.
func TestStartRefusesTornOldBlock(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	s.edit(1, func(b []byte) []byte { return b[:len(b)-100] })
	if _, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: s.dir}); !errors.Is(err, js.ErrCorrupt) {
		t.Fatalf("start: %v, want ErrCorrupt", err)
	}
}

// TestStartRefusesUnloadableStream: a stream whose metadata is damaged is
// not loaded by the server; starting would create it again, empty.
func TestStartRefusesUnloadableStream(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	meta := filepath.Join(filepath.Dir(s.msgs), "meta.inf")
	if err := os.WriteFile(meta, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: s.dir}); !errors.Is(err, js.ErrStreamNotLoaded) {
		t.Fatalf("start: %v, want ErrStreamNotLoaded", err)
	}
}

// TestStartRemovesUnloadableConsumer: a consumer whose state file is torn
// is removed at start, so it can be created again (and redeliver).
func TestStartRemovesUnloadableConsumer(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	e := s.start()
	jsc, _ := jetstream.New(e.Conn)
	ctx := context.Background()
	cfg := jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy}
	c, err := jsc.CreateOrUpdateConsumer(ctx, "S", cfg)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(10)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	state := filepath.Join(filepath.Dir(s.msgs), "obs", "c", "o.dat")
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	e = s.start()
	defer e.Close()
	jsc, _ = jetstream.New(e.Conn)
	if _, err := os.Stat(filepath.Dir(state)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the damaged consumer's directory is still there: %v", err)
	}
	c, err = jsc.CreateOrUpdateConsumer(ctx, "S", cfg)
	if err != nil {
		t.Fatalf("create the consumer again: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 100 {
		t.Fatalf("the new consumer has %d pending, want all 100 (redelivered from the start)", info.NumPending)
	}
}
