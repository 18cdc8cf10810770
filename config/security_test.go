package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
)

func TestSecurityDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := config.HTTP{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10, APIMaxBodyBytes: 64 << 10, MaxConns: 4096}
	if c.HTTP != want {
		t.Fatalf("http: %+v, want %+v", c.HTTP, want)
	}
	th := config.Throttle{Rate: 5000, Burst: 10_000, PlatformRate: 4000, PlatformBurst: 8000, ShopRate: 1000, ShopBurst: 5000,
		MaxInFlight: 512, MaxBuckets: 10_000}
	if c.Throttle != th {
		t.Fatalf("throttle: %+v, want %+v", c.Throttle, th)
	}
	if c.TLS.Enabled() || len(c.TrustedProxies) != 0 || len(c.Allow.Lazada) != 0 {
		t.Fatalf("TLS, proxies or allow-lists on by default: %+v %v %+v", c.TLS, c.TrustedProxies, c.Allow)
	}
}

func TestSecurityEnv(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", env(map[string]string{
		"ORDERLANE_HTTP_READ_HEADER_TIMEOUT": "2s",
		"ORDERLANE_HTTP_MAX_HEADER_BYTES":    "8192",
		"ORDERLANE_THROTTLE_RATE":            "-1",
		"ORDERLANE_THROTTLE_SHOP_RATE":       "2.5",
		"ORDERLANE_THROTTLE_IP_RATE":         "100",
		"ORDERLANE_THROTTLE_MAX_IN_FLIGHT":   "-1",
		"ORDERLANE_TLS_ACME_DOMAINS":         "hooks.example.com, api.example.com",
		"ORDERLANE_TLS_REDIRECT_ADDR":        ":80",
		"ORDERLANE_TRUSTED_PROXIES":          "10.0.0.0/8,192.0.2.1",
		"ORDERLANE_ALLOW_API":                "10.1.0.0/16",
	}))
	if err != nil {
		t.Fatal(err)
	}
	th := c.Throttle
	if th.Rate != -1 || th.ShopRate != 2.5 || th.ShopBurst != 5 || th.IPRate != 100 || th.IPBurst != 200 || th.MaxInFlight != -1 {
		t.Fatalf("throttle: %+v", th)
	}
	if c.HTTP.ReadHeaderTimeout != 2*time.Second || c.HTTP.MaxHeaderBytes != 8192 {
		t.Fatalf("http: %+v", c.HTTP)
	}
	if strings.Join(c.TLS.ACMEDomains, "|") != "hooks.example.com|api.example.com" || !c.TLS.Enabled() {
		t.Fatalf("tls: %+v", c.TLS)
	}
	if len(c.TrustedProxies) != 2 || len(c.Allow.API) != 1 {
		t.Fatalf("proxies %v, allow %+v", c.TrustedProxies, c.Allow)
	}
}

func TestSecurityYAML(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(`
http:
  read_timeout: 10s
throttle:
  platform_rate: 300
tls:
  cert_file: /etc/orderlane/cert.pem
  key_file: /etc/orderlane/key.pem
trusted_proxies: [10.0.0.0/8]
allow:
  shopee: [203.0.113.0/24]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.ReadTimeout != 10*time.Second || c.Throttle.PlatformRate != 300 || c.Throttle.PlatformBurst != 600 ||
		c.TLS.KeyFile == "" || c.Allow.Shopee[0] != "203.0.113.0/24" {
		t.Fatalf("%+v %+v %+v %+v", c.HTTP, c.Throttle, c.TLS, c.Allow)
	}
}

func TestSecurityValidate(t *testing.T) {
	t.Parallel()
	for name, vars := range map[string]map[string]string{
		"cert without key":     {"ORDERLANE_TLS_CERT_FILE": "c.pem"},
		"files and ACME":       {"ORDERLANE_TLS_CERT_FILE": "c", "ORDERLANE_TLS_KEY_FILE": "k", "ORDERLANE_TLS_ACME_DOMAINS": "a.example"},
		"redirect without TLS": {"ORDERLANE_TLS_REDIRECT_ADDR": ":80"},
		"acme email alone":     {"ORDERLANE_TLS_ACME_EMAIL": "ops@example.com"},
		"bad proxy CIDR":       {"ORDERLANE_TRUSTED_PROXIES": "10.0.0.1/8"},
		"bad allow entry":      {"ORDERLANE_ALLOW_LAZADA": "lazada.com"},
		"rate not a number":    {"ORDERLANE_THROTTLE_RATE": "fast"},
		"infinite rate":        {"ORDERLANE_THROTTLE_RATE": "+Inf"},
	} {
		if _, err := config.Load("", env(vars)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
