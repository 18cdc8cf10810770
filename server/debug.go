package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startDebug serves Go's profiler on cfg.DebugAddr (its own listener,
// unauthenticated: meant for loopback), if set.
func (s *Server) startDebug() error {
	if s.cfg.DebugAddr == "" {
		return nil
	}
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", s.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("server: debug_addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.debug = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.debugAddr = l.Addr().String()
	go func() {
		if err := s.debug.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("debug listener", "err", err)
		}
	}()
	s.log.Warn("profiler served without authentication", "addr", l.Addr().String())
	return nil
}

// DebugAddr is the profiler's listening address ("" when off).
func (s *Server) DebugAddr() string { return s.debugAddr }
