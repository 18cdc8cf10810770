package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures the in-process NATS server.
type EmbeddedConfig struct {
	// StoreDir is where JetStream keeps its files. Required.
	StoreDir string
	// SyncAlways makes the server fsync every write before acknowledging
	// it: an acknowledged publish then survives power loss. When false the
	// server fsyncs every SyncInterval, and an acknowledged publish
	// survives a process crash (the OS has it) but not a power loss.
	SyncAlways bool
	// SyncInterval is the fsync period when SyncAlways is false. Defaults
	// to the server's 2 minutes.
	SyncInterval time.Duration
	// ListenAddr, if set ("127.0.0.1:4222"), also opens a client port for
	// tools such as the nats CLI. Empty (the default) opens no port.
	ListenAddr string
	// Logger receives the server's warnings and errors.
	Logger *slog.Logger
}

// Embedded is an in-process NATS server with JetStream and an in-process
// client connection to it.
type Embedded struct {
	Server *server.Server
	Conn   *nats.Conn
}

// StartEmbedded starts the server and connects to it in-process.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("jetstream: embedded StoreDir is required")
	}
	opts := &server.Options{
		ServerName:   "orderlane",
		JetStream:    true,
		StoreDir:     cfg.StoreDir,
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
	return &Embedded{Server: ns, Conn: nc}, nil
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
