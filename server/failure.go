package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/diskspace"
	"github.com/orderlane/orderlane/subscriber"
)

// startFailureHandling reads the strict-mode subscriptions and starts the
// free-space monitor of the data dir (see docs/failure-handling.md).
func (s *Server) startFailureHandling() error {
	s.hold = map[string]bool{}
	for _, name := range strings.Split(s.cfg.HoldOnDeadLetter, ",") {
		switch name = strings.TrimSpace(name); name {
		case "":
		case subscriber.OrdersName, subscriber.AuditName:
			s.hold[name] = true
		default:
			return fmt.Errorf("config: hold_on_dead_letter: unknown subscription %q (want %s or %s)",
				name, subscriber.OrdersName, subscriber.AuditName)
		}
	}
	var err error
	s.disk, err = diskspace.Start(diskspace.Config{Dir: s.cfg.DataDir, MinFree: s.cfg.MinFreeDisk, Logger: s.log})
	return err
}

// subscriptionStats is GET /api/v1/subscriptions.
func (s *Server) subscriptionStats(ctx context.Context) []bus.Stats {
	out := make([]bus.Stats, len(s.subs))
	for i, sub := range s.subs {
		out[i] = sub.Stats(ctx)
	}
	return out
}
