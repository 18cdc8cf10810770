package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures the in-process NATS server.
type EmbeddedConfig struct {
	// StoreDir is where JetStream keeps its files. Required.
	StoreDir string
	// GroupCommit runs the server without sync_always and gives the
	// Embedded a Syncer: a Bus configured with it (Config.Syncer) returns
	// from Publish only after a group fsync that covers the message, so an
	// acknowledged publish survives power loss, and concurrent publishes
	// share fsyncs. Not with SyncAlways. Off by default.
	GroupCommit bool
	// SyncAlways makes the server fsync every write before acknowledging
	// it (JetStream's sync_always: one fsync per message, no sharing): an
	// acknowledged publish then survives power loss. When false (and
	// without GroupCommit) the server fsyncs every SyncInterval, and an
	// acknowledged publish survives a process crash (the OS has it) but
	// not a power loss.
	SyncAlways bool
	// SyncInterval is the period of the server's own background fsync of
	// everything (streams, consumers, state files) when SyncAlways is
	// false. Defaults to the server's 2 minutes.
	SyncInterval time.Duration
	// ListenAddr, if set ("127.0.0.1:4222"), also opens a client port for
	// tools such as the nats CLI. Empty (the default) opens no port.
	ListenAddr string
	// Logger receives the server's warnings and errors, and the start-up
	// checks' findings. Defaults to slog.Default().
	Logger *slog.Logger
}

// Embedded is an in-process NATS server with JetStream and an in-process
// client connection to it.
type Embedded struct {
	Server *server.Server
	Conn   *nats.Conn
	// Syncer is the group commit (EmbeddedConfig.GroupCommit); nil
	// without it.
	Syncer *Syncer
}

// StartEmbedded starts the server and connects to it in-process.
//
// Before the server starts, every message block in StoreDir is checked
// against its records' checksums (VerifyStore): a damaged block stops the
// start with a *CorruptError, except an interrupted write at the end of
// one of a stream's two newest blocks (a power loss), which is logged and
// left to the server to drop. After it started, a stream whose files the
// server could not load stops the start (ErrStreamNotLoaded), and a
// consumer it could not load is removed, to be created again.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("jetstream: embedded StoreDir is required")
	}
	if cfg.GroupCommit && cfg.SyncAlways {
		return nil, errors.New("jetstream: embedded GroupCommit and SyncAlways exclude each other")
	}
	storeDir, err := filepath.Abs(cfg.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("jetstream: embedded StoreDir: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	// Before the server reads the blocks: it would drop a damaged record
	// without an error, or truncate the block there.
	rep, err := VerifyStore(storeDir)
	if err != nil {
		return nil, err
	}
	for _, t := range rep.TornTails {
		log.Warn("interrupted write at the end of a message block (power loss?): the server drops it", "block", t)
	}
	if rep.Blocks > 0 {
		log.Info("message blocks verified", "streams", rep.Streams, "blocks", rep.Blocks, "records", rep.Records,
			"bytes", rep.Bytes, "duration", rep.Duration.Round(time.Millisecond))
	}
	opts := &server.Options{
		ServerName:   "orderlane",
		JetStream:    true,
		StoreDir:     storeDir,
		DontListen:   cfg.ListenAddr == "",
		SyncAlways:   cfg.SyncAlways,
		SyncInterval: cfg.SyncInterval,
		NoSigs:       true,
		NoLog:        true,
	}
	if cfg.ListenAddr != "" {
		host, port, err := splitHostPort(cfg.ListenAddr)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("jetstream: embedded server: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(&serverLogger{log: cfg.Logger}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("jetstream: embedded server not ready after 30s")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("orderlane"), nats.MaxReconnects(-1))
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("jetstream: connect in-process: %w", err)
	}
	e := &Embedded{Server: ns, Conn: nc}
	// The server keeps each account's streams under
	// <StoreDir>/jetstream/<account>/streams; orderlane uses the global
	// account.
	streams := filepath.Join(ns.StoreDir(), ns.GlobalAccount().Name, "streams")
	if err := checkLoaded(nc, streams, log); err != nil {
		nc.Close()
		ns.Shutdown()
		return nil, err
	}
	if cfg.GroupCommit {
		e.Syncer = newSyncer(storeDir, streams)
	}
	return e, nil
}

// Close drains the connection (in-flight publishes and acks complete) and
// shuts the server down, flushing its files.
func (e *Embedded) Close() {
	if err := e.Conn.Drain(); err != nil {
		e.Conn.Close()
	}
	for !e.Conn.IsClosed() {
		time.Sleep(5 * time.Millisecond)
	}
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
	if e.Syncer != nil {
		e.Syncer.Close()
	}
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("jetstream: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("jetstream: listen address %q: bad port", addr)
	}
	return host, port, nil
}

// serverLogger adapts the server's logger to slog; debug and trace are
// dropped.
type serverLogger struct{ log *slog.Logger }

func (l *serverLogger) Noticef(format string, v ...any) {}
func (l *serverLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *serverLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *serverLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *serverLogger) Debugf(format string, v ...any) {}
func (l *serverLogger) Tracef(format string, v ...any) {}
