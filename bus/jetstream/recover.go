package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrStreamNotLoaded is wrapped by the error StartEmbedded returns when a
// stream's files are on disk but the server could not load them (its
// metadata is damaged): starting anyway would let the stream be created
// again, empty, beside its old messages.
var ErrStreamNotLoaded = errors.New("jetstream: stream on disk not loaded")

// checkLoaded compares what the server loaded with what is on disk under
// streams (the account's streams directory). A stream it could not load
// stops the start. A consumer it could not load (a state file a power
// loss left torn: the server writes them without fsync unless
// sync_always) is removed, so that it is created again and redelivers
// from the start of its stream; orderlane's handlers are idempotent, and
// the consumer's state is only its position.
func checkLoaded(nc *nats.Conn, streams string, log *slog.Logger) error {
	dirs, err := os.ReadDir(streams)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	ctx := context.Background()
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		sdir := filepath.Join(streams, name)
		stream, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("%w: %s (directory %s; the server log says why). Refusing to start: the stream would be created again, empty."+
				" Recover: stop, copy the data directory aside, restore it from a backup (see docs/durability.md, \"Corruption\")",
				ErrStreamNotLoaded, name, sdir)
		}
		if err != nil {
			return fmt.Errorf("jetstream: stream %s: %w", name, err)
		}
		obs, err := os.ReadDir(filepath.Join(sdir, "obs"))
		if err != nil {
			continue // no consumers
		}
		for _, o := range obs {
			if !o.IsDir() {
				continue
			}
			if _, err := stream.Consumer(ctx, o.Name()); !errors.Is(err, jetstream.ErrConsumerNotFound) {
				continue
			}
			odir := filepath.Join(sdir, "obs", o.Name())
			log.Warn("consumer state on disk could not be loaded (a file torn by a power loss?): removed; the consumer is created again and redelivers from the start of its stream",
				"stream", name, "consumer", o.Name(), "dir", odir)
			if err := os.RemoveAll(odir); err != nil {
				return fmt.Errorf("jetstream: remove damaged consumer %s: %w", odir, err)
			}
		}
	}
	return nil
}
