package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// ClientConfig connects orderlane to an existing NATS server or cluster
// instead of the embedded one.
type ClientConfig struct {
	// URL lists the servers, comma separated
	// ("nats://n1:4222,nats://n2:4222,nats://n3:4222"); the client learns
	// the rest of the cluster from them. tls:// (or a TLSCA) requires TLS.
	// Required.
	URL string
	// CredsFile is a NATS credentials file (JWT and NKey seed). Optional;
	// not together with User.
	CredsFile string
	// User and Password authenticate with a user name and password.
	// Optional.
	User, Password string
	// TLSCA is a PEM file of the CAs that sign the servers' certificates,
	// for a private CA. Empty uses the system's roots (when TLS is on).
	TLSCA string
	// Name names the connection in the servers' monitoring. Defaults to
	// "orderlane".
	Name string
	// Logger receives disconnections and reconnections. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// Validate names the first bad field; it never echoes a secret.
func (c ClientConfig) Validate() error {
	if c.URL == "" {
		return errors.New("jetstream: client URL is required")
	}
	if c.CredsFile != "" && c.User != "" {
		return errors.New("jetstream: a credentials file and a user name are exclusive")
	}
	if (c.User == "") != (c.Password == "") {
		return errors.New("jetstream: user and password go together")
	}
	return nil
}

// Connect dials the servers of cfg.URL. The connection reconnects for
// ever (to any server of the cluster) and buffers publishes while it does;
// Publish's timeout bounds how long a push waits for that. The caller
// closes it.
func Connect(cfg ClientConfig) (*nats.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "orderlane"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			log.Warn("nats disconnected; reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", nc.ConnectedServerName())
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream: connect: %w", err)
	}
	return nc, nil
}
