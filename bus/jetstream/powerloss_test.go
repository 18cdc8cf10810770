package jetstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	js "github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/internal/lazyfs"
)

// TestPowerLossGroupCommit cuts the power under the embedded server while
// publishers append and wait for the group commit, on lazyfs (a filesystem
// that forgets what was not fsynced), and checks after each restart that
// every acknowledged message is there, intact. Each round appends to a new
// stream with 32 KB blocks (the smallest the server makes), so rounds
// cross block boundaries and the syncer's new-block path is cut too.
func TestPowerLossGroupCommit(t *testing.T) {
	lost := powerLossRounds(t, true, 12)
	if lost > 0 {
		t.Fatalf("%d acknowledged messages lost with group commit", lost)
	}
}

// TestPowerLossServerInterval is the control: with the server's own
// background fsync (every 2 minutes) acknowledged messages are lost, so
// the harness can see a loss.
func TestPowerLossServerInterval(t *testing.T) {
	if testing.Short() {
		t.Skip("control run; skipped with -short")
	}
	if lost := powerLossRounds(t, false, 3); lost == 0 {
		t.Fatal("no acknowledged message lost without group commit: the harness cannot see a loss")
	}
}

// powerLossRounds runs the rounds and returns how many acknowledged
// messages were missing or wrong after a restart.
func powerLossRounds(t *testing.T, groupCommit bool, rounds int) (lost int) {
	t.Helper()
	if err := lazyfs.Usable(); err != nil {
		t.Skipf("skipped: %v (needs /dev/fuse and the right to mount, e.g. root)", err)
	}
	fsys := lazyfs.New()
	dir := t.TempDir()
	mnt, err := fsys.Mount(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if mnt != nil {
			if err := mnt.Unmount(); err != nil {
				t.Error(err)
			}
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	acked := map[string]map[uint64][]byte{} // stream -> seq -> data
	ctx := context.Background()
	for round := 0; round <= rounds; round++ {
		e, err := js.StartEmbedded(js.EmbeddedConfig{StoreDir: filepath.Join(dir, "js"), GroupCommit: groupCommit})
		if err != nil && !groupCommit {
			// Without group commit a cut can tear a stream's metadata:
			// the start refuses, and everything is out of reach.
			t.Logf("round %d: restart refused: %v", round, err)
			lost = 0
			for _, msgs := range acked {
				lost += len(msgs)
			}
			return lost
		}
		if err != nil {
			t.Fatalf("round %d: restart: %v", round, err)
		}
		jsc, err := jetstream.New(e.Conn)
		if err != nil {
			t.Fatal(err)
		}
		// Every restart checks everything acknowledged so far; the count
		// is the last restart's.
		lost = 0
		for stream, msgs := range acked {
			n, problems := checkStream(ctx, jsc, stream, msgs)
			lost += n
			for _, p := range problems {
				if groupCommit {
					t.Errorf("round %d: %s", round, p)
				} else if n > 0 {
					t.Logf("round %d: %s", round, p)
				}
			}
		}
		if round == rounds {
			closeNow(e)
			break
		}
		name := fmt.Sprintf("PL%d", round)
		if _, err := jsc.CreateStream(ctx, jetstream.StreamConfig{
			Name: name, Subjects: []string{name + ".>"}, Storage: jetstream.FileStorage,
			MaxBytes: 120_000, Discard: jetstream.DiscardNew, // 32 KB blocks
		}); err != nil {
			t.Fatal(err)
		}
		if groupCommit {
			if err := e.Syncer.Track(name, 0); err != nil {
				t.Fatal(err)
			}
		}
		acked[name] = publishUntilCut(t, jsc, e.Syncer, name, fsys, rng)
		closeNow(e)
		if err := mnt.Unmount(); err != nil {
			t.Fatal(err)
		}
		mnt = nil
		fsys.PowerOn()
		if mnt, err = fsys.Mount(dir); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, msgs := range acked {
		n += len(msgs)
	}
	t.Logf("%d rounds, %d acknowledged messages, %d lost (group commit %v)", rounds, n, lost, groupCommit)
	return lost
}

// publishUntilCut runs 8 publishers on stream and cuts the power after a
// random number of acknowledgements; it returns what was acknowledged.
func publishUntilCut(t *testing.T, jsc jetstream.JetStream, syncer *js.Syncer, stream string, fsys *lazyfs.FS, rng *rand.Rand) map[uint64][]byte {
	t.Helper()
	var (
		mu    sync.Mutex
		acked = map[uint64][]byte{}
	)
	target := 20 + rng.IntN(130) // a 120 KB stream holds about 160
	mode := lazyfs.CutMode(rng.IntN(2))
	cutNow := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				data := bytes.Repeat([]byte(fmt.Sprintf("%s/%d/%d;", stream, p, i)), 40)
				ack, err := jsc.Publish(ctx, stream+".x", data)
				if err == nil && syncer != nil {
					err = syncer.Wait(ctx, stream, ack.Sequence)
				}
				if err != nil {
					once.Do(func() { close(cutNow) }) // full, or cut
					return
				}
				mu.Lock()
				acked[ack.Sequence] = data
				n := len(acked)
				mu.Unlock()
				if n >= target {
					once.Do(func() { close(cutNow) })
				}
			}
		})
	}
	<-cutNow
	rep := fsys.Cut(mode, rng)
	cancel()
	wg.Wait()
	t.Logf("%s: %d acknowledged, then %s", stream, len(acked), rep)
	return acked
}

// checkStream returns how many of msgs (acknowledged appends) stream
// lacks or holds wrong, and descriptions of the first few.
func checkStream(ctx context.Context, jsc jetstream.JetStream, stream string, msgs map[uint64][]byte) (lost int, problems []string) {
	s, err := jsc.Stream(ctx, stream)
	if err != nil {
		return len(msgs), []string{fmt.Sprintf("stream %s (%d acknowledged messages) is gone: %v", stream, len(msgs), err)}
	}
	for seq, want := range msgs {
		m, err := s.GetMsg(ctx, seq)
		var problem string
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			problem = fmt.Sprintf("%s seq %d: acknowledged, not found", stream, seq)
		case err != nil:
			problem = fmt.Sprintf("%s seq %d: %v", stream, seq, err)
		case !bytes.Equal(m.Data, want):
			problem = fmt.Sprintf("%s seq %d: holds %.40q, acknowledged %.40q", stream, seq, m.Data, want)
		default:
			continue
		}
		lost++
		if len(problems) < 5 {
			problems = append(problems, problem)
		}
	}
	return lost, problems
}

// closeNow stops the server without draining: after a cut nothing can be
// written anyway.
func closeNow(e *js.Embedded) {
	e.Conn.Close()
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
	if e.Syncer != nil {
		e.Syncer.Close()
	}
}
