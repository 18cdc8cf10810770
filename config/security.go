package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/orderlane/orderlane/clientip"
)

// HTTP holds the HTTP server's timeouts and size limits, which bound what
// a slow or malicious client can hold.
type HTTP struct {
	// ReadHeaderTimeout is how long a client has to send the request line
	// and headers (ORDERLANE_HTTP_READ_HEADER_TIMEOUT); a client dribbling
	// headers (slowloris) is cut off then. It also bounds the TLS
	// handshake. Defaults to 5s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout is how long a client has to send the whole request,
	// body included (ORDERLANE_HTTP_READ_TIMEOUT). Defaults to 15s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response (ORDERLANE_HTTP_WRITE_TIMEOUT). Defaults to
	// 30s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection with no request for this
	// long (ORDERLANE_HTTP_IDLE_TIMEOUT). Defaults to 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes caps the request line and headers
	// (ORDERLANE_HTTP_MAX_HEADER_BYTES); above it, 431. Defaults to 65536.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// APIMaxBodyBytes caps a request body under /api/
	// (ORDERLANE_HTTP_API_MAX_BODY_BYTES); the webhook body limit is
	// max_body_bytes. Defaults to 65536.
	APIMaxBodyBytes int64 `yaml:"api_max_body_bytes"`
	// MaxConns caps the open connections of each listener
	// (ORDERLANE_HTTP_MAX_CONNS); past it new connections wait in the
	// kernel's backlog until one closes. An idle one holds about 20 KiB,
	// so the default bounds them to roughly 80-120 MiB whatever clients
	// open.
	// Defaults to 4096; -1 removes the cap.
	MaxConns int `yaml:"max_conns"`
}

// Throttle configures the gateway's token buckets and in-flight cap (see
// docs/security.md). For each bucket, a rate of 0 takes the default and a
// negative rate turns the bucket off; the per-address bucket is off unless
// set.
type Throttle struct {
	// Rate and Burst are all pushes' bucket (ORDERLANE_THROTTLE_RATE,
	// ORDERLANE_THROTTLE_BURST): pushes a second and how many may come at
	// once. Defaults to 5000 and 10000: half of what one instance accepts
	// on a 2-core machine, so admitted pushes keep their latency while
	// the rest is refused.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// PlatformRate and PlatformBurst are each marketplace's bucket
	// (ORDERLANE_THROTTLE_PLATFORM_RATE, _PLATFORM_BURST), so a flood on
	// one webhook leaves the others a share. Default to 4000 and 8000.
	PlatformRate  float64 `yaml:"platform_rate"`
	PlatformBurst int     `yaml:"platform_burst"`
	// ShopRate and ShopBurst are each shop's bucket
	// (ORDERLANE_THROTTLE_SHOP_RATE, _SHOP_BURST). Default to 1000 and
	// 5000.
	ShopRate  float64 `yaml:"shop_rate"`
	ShopBurst int     `yaml:"shop_burst"`
	// IPRate and IPBurst are each client address's bucket (each /64 for
	// IPv6) (ORDERLANE_THROTTLE_IP_RATE, _IP_BURST). Off by default: the
	// marketplaces push from a few addresses, so a per-address limit is
	// only safe set above the platform rate, or for a route they do not
	// use. IPBurst defaults to twice IPRate.
	IPRate  float64 `yaml:"ip_rate"`
	IPBurst int     `yaml:"ip_burst"`
	// MaxInFlight caps the pushes being verified, filtered and appended
	// at once (ORDERLANE_THROTTLE_MAX_IN_FLIGHT); above it, 503 with
	// Retry-After. Defaults to 512 (at most 512 bodies held, 512 MiB at
	// the largest max_body_bytes); -1 turns it off.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxBuckets bounds the per-shop and the per-address buckets held
	// (each) (ORDERLANE_THROTTLE_MAX_BUCKETS), about 200 bytes each.
	// Defaults to 10000.
	MaxBuckets int `yaml:"max_buckets"`
}

// TLS configures HTTPS on http_addr: certificate files, or ACME.
type TLS struct {
	// CertFile and KeyFile are PEM files (ORDERLANE_TLS_CERT_FILE,
	// ORDERLANE_TLS_KEY_FILE), re-read when they change. Lazada refuses
	// DV certificates: for Lazada pushes, use an OV or EV certificate
	// here, not ACME.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ACMEDomains turns on automatic certificates for these names
	// (ORDERLANE_TLS_ACME_DOMAINS, comma separated). Turning it on
	// accepts the CA's terms of service. The account and certificates are
	// kept in data_dir/acme.
	ACMEDomains []string `yaml:"acme_domains"`
	// ACMEEmail is the contact given to the CA (ORDERLANE_TLS_ACME_EMAIL).
	ACMEEmail string `yaml:"acme_email"`
	// ACMEDirectoryURL is the CA (ORDERLANE_TLS_ACME_DIRECTORY_URL).
	// Defaults to Let's Encrypt's production directory.
	ACMEDirectoryURL string `yaml:"acme_directory_url"`
	// ACMECAFile is a PEM file of the roots of the ACME server's own HTTPS
	// certificate, for a private CA (ORDERLANE_TLS_ACME_CA_FILE).
	ACMECAFile string `yaml:"acme_ca_file"`
	// RedirectAddr, if set, opens a plain-HTTP listener there
	// (ORDERLANE_TLS_REDIRECT_ADDR, e.g. ":80") that answers ACME HTTP-01
	// challenges and redirects everything else to HTTPS (308). Off by
	// default; without it ACME validates over TLS-ALPN-01, which needs
	// http_addr reachable on port 443.
	RedirectAddr string `yaml:"redirect_addr"`
}

// Enabled reports whether HTTPS is configured.
func (t TLS) Enabled() bool {
	return t.CertFile != "" || t.KeyFile != "" || len(t.ACMEDomains) > 0
}

// Allow lists, per route, the client address ranges (CIDRs or single
// addresses) that may call it; others get 403. Empty (the default) allows
// everyone. Addresses are seen through trusted_proxies.
type Allow struct {
	// Shopee, Lazada and TikTok are the webhook routes
	// (ORDERLANE_ALLOW_SHOPEE, _LAZADA, _TIKTOK, comma separated). Lazada
	// publishes no address list, so its route is normally left open.
	Shopee []string `yaml:"shopee"`
	Lazada []string `yaml:"lazada"`
	TikTok []string `yaml:"tiktok"`
	// API is /api/ and /metrics (ORDERLANE_ALLOW_API); /healthz and
	// /readyz stay open for load balancers.
	API []string `yaml:"api"`
}

func (c Config) securityDefaults() Config {
	h := &c.HTTP
	setDur(&h.ReadHeaderTimeout, 5*time.Second)
	setDur(&h.ReadTimeout, 15*time.Second)
	setDur(&h.WriteTimeout, 30*time.Second)
	setDur(&h.IdleTimeout, 120*time.Second)
	if h.MaxHeaderBytes <= 0 {
		h.MaxHeaderBytes = 64 << 10
	}
	if h.APIMaxBodyBytes <= 0 {
		h.APIMaxBodyBytes = 64 << 10
	}
	if h.MaxConns == 0 {
		h.MaxConns = 4096
	}
	t := &c.Throttle
	setBucket(&t.Rate, &t.Burst, 5000, 10_000)
	setBucket(&t.PlatformRate, &t.PlatformBurst, 4000, 8000)
	setBucket(&t.ShopRate, &t.ShopBurst, 1000, 5000)
	if t.IPRate > 0 && t.IPBurst <= 0 {
		t.IPBurst = int(math.Ceil(2 * t.IPRate))
	}
	if t.MaxInFlight == 0 {
		t.MaxInFlight = 512
	}
	if t.MaxBuckets <= 0 {
		t.MaxBuckets = 10_000
	}
	return c
}

func setDur(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// setBucket applies a default bucket to a zero rate; a negative rate
// (off) is left alone.
func setBucket(rate *float64, burst *int, defRate float64, defBurst int) {
	if *rate == 0 {
		*rate = defRate
		if *burst <= 0 {
			*burst = defBurst
		}
	}
	if *rate > 0 && *burst <= 0 {
		*burst = int(math.Ceil(2 * *rate))
	}
}

func (c Config) validateSecurity() error {
	for name, r := range map[string]float64{
		"throttle.rate": c.Throttle.Rate, "throttle.platform_rate": c.Throttle.PlatformRate,
		"throttle.shop_rate": c.Throttle.ShopRate, "throttle.ip_rate": c.Throttle.IPRate,
	} {
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return fmt.Errorf("config: %s %v: want a number of pushes a second", name, r)
		}
	}
	t := c.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("config: tls.cert_file and tls.key_file: set both or neither")
	}
	if t.CertFile != "" && len(t.ACMEDomains) > 0 {
		return errors.New("config: tls.cert_file and tls.acme_domains are both set: pick one")
	}
	if t.RedirectAddr != "" {
		if !t.Enabled() {
			return errors.New("config: tls.redirect_addr is set but TLS is not (tls.cert_file or tls.acme_domains)")
		}
		if _, _, err := net.SplitHostPort(t.RedirectAddr); err != nil {
			return fmt.Errorf("config: tls.redirect_addr %q: %w", t.RedirectAddr, err)
		}
	}
	if len(t.ACMEDomains) == 0 && (t.ACMEEmail != "" || t.ACMEDirectoryURL != "" || t.ACMECAFile != "") {
		return errors.New("config: tls.acme_* is set but tls.acme_domains is not")
	}
	for name, list := range map[string][]string{
		"trusted_proxies": c.TrustedProxies,
		"allow.shopee":    c.Allow.Shopee, "allow.lazada": c.Allow.Lazada,
		"allow.tiktok": c.Allow.TikTok, "allow.api": c.Allow.API,
	} {
		if _, err := clientip.ParsePrefixes("config: "+name, list); err != nil {
			return err
		}
	}
	return nil
}

// securityEnv lists the environment variables of the settings above.
func (c *Config) securityEnv() []envVar {
	return []envVar{
		{"ORDERLANE_HTTP_READ_HEADER_TIMEOUT", &c.HTTP.ReadHeaderTimeout},
		{"ORDERLANE_HTTP_READ_TIMEOUT", &c.HTTP.ReadTimeout},
		{"ORDERLANE_HTTP_WRITE_TIMEOUT", &c.HTTP.WriteTimeout},
		{"ORDERLANE_HTTP_IDLE_TIMEOUT", &c.HTTP.IdleTimeout},
		{"ORDERLANE_HTTP_MAX_HEADER_BYTES", &c.HTTP.MaxHeaderBytes},
		{"ORDERLANE_HTTP_API_MAX_BODY_BYTES", &c.HTTP.APIMaxBodyBytes},
		{"ORDERLANE_HTTP_MAX_CONNS", &c.HTTP.MaxConns},
		{"ORDERLANE_THROTTLE_RATE", &c.Throttle.Rate},
		{"ORDERLANE_THROTTLE_BURST", &c.Throttle.Burst},
		{"ORDERLANE_THROTTLE_PLATFORM_RATE", &c.Throttle.PlatformRate},
		{"ORDERLANE_THROTTLE_PLATFORM_BURST", &c.Throttle.PlatformBurst},
		{"ORDERLANE_THROTTLE_SHOP_RATE", &c.Throttle.ShopRate},
		{"ORDERLANE_THROTTLE_SHOP_BURST", &c.Throttle.ShopBurst},
		{"ORDERLANE_THROTTLE_IP_RATE", &c.Throttle.IPRate},
		{"ORDERLANE_THROTTLE_IP_BURST", &c.Throttle.IPBurst},
		{"ORDERLANE_THROTTLE_MAX_IN_FLIGHT", &c.Throttle.MaxInFlight},
		{"ORDERLANE_THROTTLE_MAX_BUCKETS", &c.Throttle.MaxBuckets},
		{"ORDERLANE_TLS_CERT_FILE", &c.TLS.CertFile},
		{"ORDERLANE_TLS_KEY_FILE", &c.TLS.KeyFile},
		{"ORDERLANE_TLS_ACME_DOMAINS", &c.TLS.ACMEDomains},
		{"ORDERLANE_TLS_ACME_EMAIL", &c.TLS.ACMEEmail},
		{"ORDERLANE_TLS_ACME_DIRECTORY_URL", &c.TLS.ACMEDirectoryURL},
		{"ORDERLANE_TLS_ACME_CA_FILE", &c.TLS.ACMECAFile},
		{"ORDERLANE_TLS_REDIRECT_ADDR", &c.TLS.RedirectAddr},
		{"ORDERLANE_TRUSTED_PROXIES", &c.TrustedProxies},
		{"ORDERLANE_ALLOW_SHOPEE", &c.Allow.Shopee},
		{"ORDERLANE_ALLOW_LAZADA", &c.Allow.Lazada},
		{"ORDERLANE_ALLOW_TIKTOK", &c.Allow.TikTok},
		{"ORDERLANE_ALLOW_API", &c.Allow.API},
	}
}
