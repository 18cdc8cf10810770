// Package tlsconf is orderlane's TLS: a certificate and key from files,
// re-read when they change (no restart for a rotation), or certificates
// obtained and renewed automatically over ACME (RFC 8555: Let's Encrypt or
// any other ACME CA) with golang.org/x/crypto/acme/autocert; modern
// protocol settings (TLS 1.2 and 1.3 only, AEAD suites with forward
// secrecy, HTTP/2); and the handler of the plain-HTTP listener, which
// answers ACME HTTP-01 challenges and redirects everything else to HTTPS.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Config selects where certificates come from: files (CertFile and
// KeyFile) or ACME (ACME.Domains), not both.
type Config struct {
	// CertFile is a PEM file with the certificate chain, leaf first;
	// KeyFile is the PEM private key. Both are re-read when either
	// changes (checked at most every ReloadCheck); a pair that does not
	// load (half-written, mismatched) is skipped and the previous one kept
	// until either file changes again.
	CertFile, KeyFile string
	// ReloadCheck is how often, at most, the files' sizes and times are
	// looked at, on a handshake. Defaults to 5s.
	ReloadCheck time.Duration
	// ACME obtains certificates automatically when Domains is set.
	ACME ACME
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// ACME configures automatic certificates.
type ACME struct {
	// Domains are the host names to obtain certificates for; a handshake
	// for any other name is refused (an attacker cannot make orderlane
	// request certificates for names of its choosing).
	Domains []string
	// Email is the contact the CA may write to about the account
	// (expiry, revocation). Optional.
	Email string
	// DirectoryURL is the CA's ACME directory. Defaults to Let's
	// Encrypt's production directory.
	DirectoryURL string
	// CAFile is a PEM file of the roots that sign the ACME server's own
	// HTTPS certificate, for a private ACME CA; empty uses the system's.
	CAFile string
	// CacheDir keeps the account key and certificates across restarts
	// (so a restart does not ask the CA again). Required.
	CacheDir string
}

// TLS is a ready server-side TLS configuration.
type TLS struct {
	// Config is for the HTTPS listener: http.Server.TLSConfig.
	Config  *tls.Config
	manager *autocert.Manager
	files   *FileCertificate
}

// Suites12 are the TLS 1.2 cipher suites offered: ECDHE key exchange
// (forward secrecy) with AEAD ciphers only. TLS 1.3's suites are not
// configurable in Go and are all of this kind.
var Suites12 = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Enabled reports whether cfg asks for TLS at all.
func (cfg Config) Enabled() bool {
	return cfg.CertFile != "" || cfg.KeyFile != "" || len(cfg.ACME.Domains) > 0
}

// New returns the TLS configuration for cfg. With files, the pair must
// load now; with ACME, certificates are obtained on the first handshake
// for each domain (and renewed 30 days before they expire).
func New(cfg Config) (*TLS, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReloadCheck <= 0 {
		cfg.ReloadCheck = 5 * time.Second
	}
	t := &TLS{Config: &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: Suites12,
		NextProtos:   []string{"h2", "http/1.1"},
	}}
	switch {
	case len(cfg.ACME.Domains) > 0 && (cfg.CertFile != "" || cfg.KeyFile != ""):
		return nil, errors.New("tlsconf: certificate files and ACME domains are both set: pick one")
	case len(cfg.ACME.Domains) > 0:
		m, err := newManager(cfg.ACME)
		if err != nil {
			return nil, err
		}
		t.manager = m
		t.Config.GetCertificate = m.GetCertificate
		// TLS-ALPN-01 challenges arrive on this listener.
		t.Config.NextProtos = append(t.Config.NextProtos, acme.ALPNProto)
	case cfg.CertFile != "" && cfg.KeyFile != "":
		f, err := LoadFileCertificate(cfg.CertFile, cfg.KeyFile, cfg.ReloadCheck, cfg.Logger)
		if err != nil {
			return nil, err
		}
		t.files = f
		t.Config.GetCertificate = f.GetCertificate
	default:
		return nil, errors.New("tlsconf: set both a certificate file and a key file, or ACME domains")
	}
	return t, nil
}

func newManager(cfg ACME) (*autocert.Manager, error) {
	if cfg.CacheDir == "" {
		return nil, errors.New("tlsconf: ACME needs a cache dir")
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsconf: ACME cache dir: %w", err)
	}
	client := &acme.Client{DirectoryURL: cfg.DirectoryURL, UserAgent: "orderlane"}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tlsconf: ACME CA file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tlsconf: ACME CA file %s: no PEM certificate", cfg.CAFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		client.HTTPClient = &http.Client{Transport: tr}
	}
	domains := make([]string, len(cfg.Domains))
	for i, d := range cfg.Domains {
		domains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	return &autocert.Manager{
		// Turning ACME on is accepting the CA's terms of service.
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cfg.CacheDir),
		HostPolicy: autocert.HostWhitelist(domains...),
		Email:      cfg.Email,
		Client:     client,
	}, nil
}

// HTTPHandler is the handler of the plain-HTTP listener: with ACME it
// answers HTTP-01 challenges (/.well-known/acme-challenge/); every other
// request is redirected (308, method and body kept) to the same host and
// path over HTTPS on httpsAddr's port (left out when 443).
func (t *TLS) HTTPHandler(httpsAddr string) http.Handler {
	redirect := Redirect(httpsAddr)
	if t.manager == nil {
		return redirect
	}
	challenges := t.manager.HTTPHandler(redirect)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The host policy compares names: drop a port (a CA validating
		// on a port other than 80, as test CAs do).
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			r = r.Clone(r.Context())
			r.Host = h
		}
		challenges.ServeHTTP(w, r)
	})
}

// Redirect returns a handler that redirects every request to HTTPS on
// httpsAddr's port, keeping the host, path and query.
func Redirect(httpsAddr string) http.Handler {
	_, port, _ := net.SplitHostPort(httpsAddr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" {
			http.Error(w, "use HTTPS", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") { // IPv6 literal
			host = "[" + host + "]"
		}
		if port != "" && port != "443" {
			host += ":" + port
		}
		// #nosec G710 -- same host as requested, only the scheme and port change: a
		// browser cannot be made to send another site's Host here.
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// Prefetch obtains the certificate of each ACME domain now, rather than
// on the first handshake for it (which waits for the CA). A no-op with
// files.
func (t *TLS) Prefetch(domains []string) error {
	if t.manager == nil {
		return nil
	}
	var errs []error
	for _, d := range domains {
		hello := &tls.ClientHelloInfo{ServerName: d, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
		if _, err := t.manager.GetCertificate(hello); err != nil {
			errs = append(errs, fmt.Errorf("tlsconf: certificate for %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
