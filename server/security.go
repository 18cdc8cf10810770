package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/orderlane/orderlane/apitoken"
	"github.com/orderlane/orderlane/clientip"
	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/gateway"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/tlsconf"
)

// security is the HTTP hardening of a Server: client addresses through
// trusted proxies, allow-lists, scoped tokens, TLS and the plain-HTTP
// redirect listener.
type security struct {
	resolver   *clientip.Resolver
	allow      map[order.Platform][]netip.Prefix
	allowAPI   []netip.Prefix
	tokens     *apitoken.Store
	tls        *tlsconf.TLS
	redirect   *http.Server
	redirectLn net.Listener
}

// setupSecurity prepares what serve needs; certificate files that do not
// load fail the start here, before anything else is opened.
func (s *Server) setupSecurity() error {
	cfg := s.cfg
	parse := func(name string, list []string) []netip.Prefix {
		p, _ := clientip.ParsePrefixes(name, list) // Validate checked them
		return p
	}
	s.sec.resolver = clientip.NewResolver(parse("trusted_proxies", cfg.TrustedProxies))
	s.sec.allow = map[order.Platform][]netip.Prefix{
		order.Shopee: parse("allow.shopee", cfg.Allow.Shopee),
		order.Lazada: parse("allow.lazada", cfg.Allow.Lazada),
		order.TikTok: parse("allow.tiktok", cfg.Allow.TikTok),
	}
	s.sec.allowAPI = parse("allow.api", cfg.Allow.API)
	var err error
	if s.sec.tokens, err = apitoken.Open(cfg.DataDir); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := s.sec.tokens.Err(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if cfg.TLS.RedirectAddr != "" && !cfg.TLS.Enabled() {
		return errors.New("server: tls.redirect_addr needs TLS (tls.cert_file or tls.acme_domains)")
	}
	if cfg.TLS.Enabled() {
		if s.sec.tls, err = tlsconf.New(tlsconf.Config{
			CertFile: cfg.TLS.CertFile,
			KeyFile:  cfg.TLS.KeyFile,
			ACME: tlsconf.ACME{
				Domains:      cfg.TLS.ACMEDomains,
				Email:        cfg.TLS.ACMEEmail,
				DirectoryURL: cfg.TLS.ACMEDirectoryURL,
				CAFile:       cfg.TLS.ACMECAFile,
				CacheDir:     filepath.Join(cfg.DataDir, "acme"),
			},
			Logger: s.log,
		}); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	return nil
}

// gatewayLimits maps the throttle settings onto the gateway's (a negative
// rate turns a bucket off).
func gatewayLimits(t config.Throttle) gateway.Limits {
	bucket := func(rate float64, burst int) gateway.Bucket {
		if rate <= 0 {
			return gateway.Bucket{}
		}
		return gateway.Bucket{Rate: rate, Burst: burst}
	}
	return gateway.Limits{
		MaxInFlight: max(t.MaxInFlight, 0),
		IP:          bucket(t.IPRate, t.IPBurst),
		Platform:    bucket(t.PlatformRate, t.PlatformBurst),
		Global:      bucket(t.Rate, t.Burst),
		Shop:        bucket(t.ShopRate, t.ShopBurst),
		MaxKeys:     t.MaxBuckets,
	}
}

// apiHandler puts the API's routes behind the API allow-list (/api/ and
// /metrics; the health checks stay open) and caps /api/ request bodies
// (413).
func (s *Server) apiHandler(a http.Handler) http.Handler {
	limit := s.cfg.HTTP.APIMaxBodyBytes
	api := clientip.Allow(s.sec.resolver, s.sec.allowAPI, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			httperror.Write(w, http.StatusRequestEntityTooLarge, httperror.CodeTooLarge,
				fmt.Sprintf("body larger than %d bytes", limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		a.ServeHTTP(w, r)
	}))
	metrics := clientip.Allow(s.sec.resolver, s.sec.allowAPI, a)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/"):
			api.ServeHTTP(w, r)
		case r.URL.Path == "/metrics":
			metrics.ServeHTTP(w, r)
		default:
			a.ServeHTTP(w, r)
		}
	})
}

// httpServer returns an HTTP server with the configured timeouts and
// limits.
func (s *Server) httpServer(h http.Handler) *http.Server {
	c := s.cfg.HTTP
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return srv
}

// serve listens on http_addr (HTTPS when TLS is configured, with HTTP/2)
// and, when set, on tls.redirect_addr (ACME HTTP-01 challenges and the
// redirect to HTTPS), and serves h.
func (s *Server) serve(ctx context.Context, h http.Handler) error {
	lc := &net.ListenConfig{}
	var err error
	if s.listener, err = lc.Listen(ctx, "tcp", s.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	s.listener = s.limit(s.listener, "main")
	if s.cfg.TLS.RedirectAddr != "" {
		// Closed by close() if anything below fails.
		if s.sec.redirectLn, err = lc.Listen(ctx, "tcp", s.cfg.TLS.RedirectAddr); err != nil {
			return fmt.Errorf("server: listen on tls.redirect_addr: %w", err)
		}
		s.sec.redirectLn = s.limit(s.sec.redirectLn, "redirect")
	}
	s.http = s.httpServer(h)
	scheme := "http"
	if s.sec.tls != nil {
		scheme = "https"
		s.http.TLSConfig = s.sec.tls.Config
		s.http.Protocols = new(http.Protocols)
		s.http.Protocols.SetHTTP1(true)
		s.http.Protocols.SetHTTP2(true)
	}
	if s.sec.redirectLn != nil {
		s.sec.redirect = s.httpServer(s.sec.tls.HTTPHandler(s.listener.Addr().String()))
		go func() {
			if err := s.sec.redirect.Serve(s.sec.redirectLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http redirect server", "err", err)
			}
		}()
	}
	go func() {
		var err error
		if s.sec.tls != nil {
			err = s.http.ServeTLS(s.listener, "", "")
		} else {
			err = s.http.Serve(s.listener)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", "err", err)
		}
	}()
	if domains := s.cfg.TLS.ACMEDomains; len(domains) > 0 {
		// Obtain (or load from the cache) the certificates now, with the
		// listeners up for the challenges, rather than on the first push.
		go func() {
			if err := s.sec.tls.Prefetch(domains); err != nil {
				s.log.Warn("ACME certificate not obtained yet; retried on the next handshake", "err", err)
			}
		}()
	}
	attrs := []any{"addr", s.listener.Addr().String(), "scheme", scheme, "data_dir", s.cfg.DataDir, "fsync", s.cfg.Fsync}
	if s.sec.redirectLn != nil {
		attrs = append(attrs, "redirect_addr", s.sec.redirectLn.Addr().String())
	}
	if len(s.cfg.TLS.ACMEDomains) > 0 {
		attrs = append(attrs, "acme_domains", strings.Join(s.cfg.TLS.ACMEDomains, ","))
	}
	s.log.Info("orderlane serving", attrs...)
	return nil
}

// limit caps l's open connections at http.max_conns (see connlimit.go).
func (s *Server) limit(l net.Listener, name string) net.Listener {
	if s.cfg.HTTP.MaxConns <= 0 {
		return l
	}
	ll := newLimitListener(l, s.cfg.HTTP.MaxConns)
	if s.reg != nil {
		s.reg.MustRegister(ll.collector(name))
	}
	return ll
}

// closeRedirect stops the plain-HTTP listener.
func (s *Server) closeRedirect(ctx context.Context) error {
	if s.sec.redirect != nil {
		return s.sec.redirect.Shutdown(ctx)
	}
	if s.sec.redirectLn != nil {
		return s.sec.redirectLn.Close()
	}
	return nil
}

// RedirectAddr is the address of the plain-HTTP listener
// (tls.redirect_addr); empty when there is none.
func (s *Server) RedirectAddr() string {
	if s.sec.redirectLn == nil {
		return ""
	}
	return s.sec.redirectLn.Addr().String()
}

// Tokens is the server's token store (data_dir/api-tokens.json).
func (s *Server) Tokens() *apitoken.Store { return s.sec.tokens }
