package server

import (
	"github.com/nats-io/nats.go"

	"github.com/orderlane/orderlane/bus/jetstream"
)

// connectNATS connects to the external NATS cluster of cfg.NATS (instead
// of starting the embedded server).
func (s *Server) connectNATS() error {
	nc, err := jetstream.Connect(jetstream.ClientConfig{
		URL:       s.cfg.NATS.URL,
		CredsFile: s.cfg.NATS.Creds,
		User:      s.cfg.NATS.User,
		Password:  s.cfg.NATS.Password,
		TLSCA:     s.cfg.NATS.TLSCA,
		Logger:    s.log,
	})
	if err != nil {
		return err
	}
	s.extNATS = nc
	s.log.Info("nats: external cluster", "server", nc.ConnectedServerName(), "replicas", s.cfg.NATS.Replicas)
	return nil
}

// natsConn is the connection to the broker: the external cluster's or the
// embedded server's.
func (s *Server) natsConn() *nats.Conn {
	if s.extNATS != nil {
		return s.extNATS
	}
	return s.nats.Conn
}

// syncer is the embedded server's group commit, nil on a cluster (the
// PubAck is held by a quorum there).
func (s *Server) syncer() *jetstream.Syncer {
	if s.nats == nil {
		return nil
	}
	return s.nats.Syncer
}
