// Package jetstream is the NATS JetStream driver of the bus: the topic is a
// stream, each subscription a durable pull consumer, and per-group ordering
// is enforced by an in-process scheduler in front of the handler.
//
// JetStream has no message groups, so ordering is ours:
//
//   - the scheduler holds a group's later messages in memory while an
//     earlier one is in flight or waiting for its retry, and extends their
//     ack deadline (InProgress) so the server does not redeliver them;
//   - a message is acknowledged with a confirmed ack (DoubleAck) before the
//     next message of its group is handed over;
//   - at start the consumer is reset to its ack floor (nats-server >= 2.14),
//     so messages a previous process left unacknowledged are redelivered
//     first and in stream order, instead of after their ack wait behind
//     newer messages of the same group. The reset redelivers everything
//     after the floor, including messages acknowledged out of order above
//     it (the server keeps no per-message ack record across the reset); a
//     group stuck in retries holds the floor back, so a restart then hands
//     over again everything after it. Handlers are idempotent, so this
//     costs time, not correctness.
//
// The same code runs against the embedded server (see Embedded) and a NATS
// cluster.
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/orderlane/orderlane/bus"
)

// Header names carried on every message.
const (
	HeaderGroup = "Orderlane-Group"
	// Dead-letter headers.
	HeaderSubscription = "Orderlane-Subscription"
	HeaderError        = "Orderlane-Error"
	HeaderAttempts     = "Orderlane-Attempts"
	HeaderOriginalSeq  = "Orderlane-Original-Seq"
	HeaderOriginalSubj = "Orderlane-Original-Subject"
	HeaderFailedAt     = "Orderlane-Failed-At"
)

// Config configures the topic and dead-letter streams.
type Config struct {
	// Stream is the topic stream. Defaults to "ORDERLANE_EVENTS".
	Stream string
	// Subjects is the subject prefix of the topic. Defaults to
	// "orderlane.events".
	Subjects string
	// DeadLetterStream defaults to "ORDERLANE_DEADLETTERS", with subjects
	// under DeadLetterSubjects (default "orderlane.deadletters").
	DeadLetterStream   string
	DeadLetterSubjects string
	// Replicas is the stream replication factor: 1 embedded, 3 on a
	// cluster. Defaults to 1.
	Replicas int
	// MaxAge is how long the topic keeps messages (replay horizon).
	// Defaults to 7 days. Dead letters are kept 30 days.
	MaxAge time.Duration
	// DuplicateWindow is how long the broker remembers message IDs.
	// Defaults to 2 minutes.
	DuplicateWindow time.Duration
	// PublishTimeout bounds one append. Defaults to 5s.
	PublishTimeout time.Duration
	// AckWait is how long the server waits for an acknowledgement before
	// redelivering. Held messages are kept alive with InProgress.
	// Defaults to 30s.
	AckWait time.Duration
	// Syncer, if set (the embedded server's group commit; see
	// EmbeddedConfig.GroupCommit), makes Publish wait after the PubAck
	// until the message is fsynced, and subscriptions hand a message to
	// their handler only once it is fsynced. Needs Replicas 1. Nil (the
	// default, and on a cluster) trusts the PubAck as it is: as durable
	// as the server's sync setting, and on a cluster held by a quorum.
	Syncer *Syncer
	// Partitions is the topic's partition count, fixed when the topic is
	// created (recorded in the stream's metadata; a process configured
	// with another count refuses to start). Each partition is consumed by
	// one worker at a time. Defaults to 1.
	Partitions int
	// WorkerID names this process among the workers sharing the
	// subscriptions: unique per live process, and the same across a
	// restart so its leases are taken back at once. Defaults to a random
	// id. Letters, digits, '-' and '_'.
	WorkerID string
	// LeaseTTL is how long a partition lease outlives its holder's last
	// renewal (renewed every LeaseTTL/4): how long a crashed worker's
	// partitions wait before another worker takes them. Defaults to 10s.
	LeaseTTL time.Duration
	// LeaseBucket is the key-value bucket of leases and heartbeats.
	// Defaults to "ORDERLANE_LEASES".
	LeaseBucket string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Stream, "ORDERLANE_EVENTS")
	def(&c.Subjects, "orderlane.events")
	def(&c.DeadLetterStream, "ORDERLANE_DEADLETTERS")
	def(&c.DeadLetterSubjects, "orderlane.deadletters")
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.Partitions <= 0 {
		c.Partitions = 1
	}
	if c.WorkerID == "" {
		c.WorkerID = "w" + nuid.Next()
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	def(&c.LeaseBucket, "ORDERLANE_LEASES")
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Bus is the JetStream topic. It implements the bus publisher and
// subscriber sides.
type Bus struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream

	// leaseOnce guards the lease bucket and the subscriptions running in
	// this process.
	leaseOnce sync.Mutex
	leaseKV   jetstream.KeyValue
	running   map[string]bool
}

// New creates or updates the streams (idempotent) and returns the bus. The
// connection stays the caller's to close.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Bus, error) {
	cfg = cfg.WithDefaults()
	if cfg.Syncer != nil && cfg.Replicas != 1 {
		return nil, fmt.Errorf("jetstream: group commit (Syncer) needs Replicas 1, not %d", cfg.Replicas)
	}
	if err := validWorkerID(cfg.WorkerID); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if existing, err := js.Stream(ctx, cfg.Stream); err == nil {
		if err := checkPartitions(existing.CachedInfo(), cfg.Partitions); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("jetstream: stream %s: %w", cfg.Stream, err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "orderlane topic: every accepted marketplace push",
		Subjects:    []string{cfg.Subjects + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.MaxAge,
		Duplicates:  cfg.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
		Metadata:    map[string]string{metaPartitions: strconv.Itoa(cfg.Partitions)},
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: create stream %s: %w", cfg.Stream, err)
	}
	dead, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.DeadLetterStream,
		Description: "orderlane dead letters, one subject per subscription",
		Subjects:    []string{cfg.DeadLetterSubjects + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      30 * 24 * time.Hour,
		Duplicates:  deadLetterDedupWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: create stream %s: %w", cfg.DeadLetterStream, err)
	}
	if cfg.Syncer != nil {
		for _, st := range []jetstream.Stream{stream, dead} {
			info := st.CachedInfo()
			if err := cfg.Syncer.Track(info.Config.Name, info.State.LastSeq); err != nil {
				return nil, err
			}
		}
	}
	return &Bus{cfg: cfg, nc: nc, js: js, stream: stream, running: map[string]bool{}}, nil
}

// Publish appends m and returns after the durable append: the server's
// acknowledgement, which it sends once the message is stored (with sync
// always, fsynced; on a cluster, held by a quorum), and with a Syncer the
// group fsync that follows it. A duplicate (the ID was appended within
// the dedup window) waits for the original's fsync the same way.
func (b *Bus) Publish(ctx context.Context, m bus.Message) (bus.PublishResult, error) {
	if m.Group == "" {
		return bus.PublishResult{}, errors.New("jetstream: publish: message group is required")
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	msg := &nats.Msg{
		Subject: b.partitionSubject(m.Group, m.Subject),
		Data:    m.Data,
		Header:  nats.Header{HeaderGroup: []string{m.Group}},
	}
	if m.ID != "" {
		msg.Header[jetstream.MsgIDHeader] = []string{m.ID}
	}
	ack, err := b.js.PublishMsg(ctx, msg)
	if err != nil {
		return bus.PublishResult{}, fmt.Errorf("jetstream: publish: %w", err)
	}
	if err := b.commit(ctx, b.cfg.Stream, ack.Sequence); err != nil {
		return bus.PublishResult{}, fmt.Errorf("jetstream: publish: %w", err)
	}
	return bus.PublishResult{Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// commit waits, with a Syncer, until stream is fsynced up to seq.
func (b *Bus) commit(ctx context.Context, stream string, seq uint64) error {
	if b.cfg.Syncer == nil {
		return nil
	}
	return b.cfg.Syncer.Wait(ctx, stream, seq)
}

// Ping reports whether the topic stream answers and, with a Syncer, its
// fsyncs succeed.
func (b *Bus) Ping(ctx context.Context) error {
	if b.cfg.Syncer != nil {
		if err := b.cfg.Syncer.Err(); err != nil {
			return err
		}
	}
	if _, err := b.stream.Info(ctx); err != nil {
		return fmt.Errorf("jetstream: stream %s: %w", b.cfg.Stream, err)
	}
	return nil
}

// DeadLetterSubject is where subscription name's dead letters go.
func (b *Bus) DeadLetterSubject(name string) string {
	return b.cfg.DeadLetterSubjects + "." + name
}

// validWorkerID accepts what a key-value key token can hold.
func validWorkerID(id string) error {
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return fmt.Errorf("jetstream: worker id %q: only letters, digits, '-' and '_'", id)
		}
	}
	return nil
}

// JetStream exposes the client for tools and tests (dead-letter inspection).
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Config returns the effective configuration.
func (b *Bus) Config() Config { return b.cfg }
