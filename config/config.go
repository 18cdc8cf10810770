// Package config is orderlane's configuration: one struct with documented
// defaults, filled from an optional YAML file, then the environment, then
// flags (each overriding the previous).
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is everything `orderlane serve` and `orderlane simulate` read.
type Config struct {
	// HTTPAddr is the listen address of the HTTP server
	// (ORDERLANE_HTTP_ADDR). Defaults to ":8080".
	HTTPAddr string `yaml:"http_addr"`
	// DataDir holds the JetStream files, the SQLite database and the
	// generated API token (ORDERLANE_DATA_DIR). Defaults to "./data".
	DataDir string `yaml:"data_dir"`
	// APIToken authorises the query API (ORDERLANE_API_TOKEN). When empty,
	// a token is generated at first start, stored in DataDir/api-token and
	// printed once.
	APIToken string `yaml:"api_token"`
	// Fsync is when appended events reach the disk (ORDERLANE_FSYNC).
	// "always" (the default): a push is acknowledged only after an fsync
	// that covers it, shared by the pushes that arrive together (group
	// commit), so an acknowledged push survives power loss. "jetstream":
	// the same guarantee by JetStream's own sync_always, one fsync per
	// push (slower; kept for comparison). A duration ("1s", "2m"): fsync
	// that often, so an acknowledged push survives a process crash but the
	// last interval can be lost on power loss. The order store commits
	// with synchronous=FULL in the first two modes, NORMAL otherwise. See
	// docs/durability.md.
	Fsync string `yaml:"fsync"`
	// MaxBodyBytes caps a webhook body (ORDERLANE_MAX_BODY_BYTES); larger
	// pushes get 413. Defaults to 1 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// PublishTimeout bounds the durable append behind one push
	// (ORDERLANE_PUBLISH_TIMEOUT); past it the push gets 503 and the
	// marketplace retries. Defaults to 2s, inside every marketplace's
	// deadline but Lazada's 500 ms, which a healthy append meets by far.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	// NATSListen, if set, opens a client port on the embedded NATS server
	// for tools ("127.0.0.1:4222") (ORDERLANE_NATS_LISTEN). Off by default.
	NATSListen string `yaml:"nats_listen"`
	// DebugAddr, if set, serves Go's profiler (net/http/pprof) on its own
	// listener, without authentication: bind it to loopback
	// ("127.0.0.1:6060") (ORDERLANE_DEBUG_ADDR). Off by default.
	DebugAddr string `yaml:"debug_addr"`
	// LogLevel is debug, info, warn or error (ORDERLANE_LOG_LEVEL).
	// Defaults to info.
	LogLevel string `yaml:"log_level"`
	// Workers is how many order groups each subscription handles at once
	// (ORDERLANE_WORKERS). Defaults to 128: the store commits the writes
	// of all handlers in flight together, so more of them means fewer,
	// larger commits (at 32, the apply side fell over a second behind a
	// closed-loop bench; see docs/benchmarks.md).
	Workers int `yaml:"workers"`
	// MaxAttempts is how many times a subscription tries an event before
	// dead-lettering it (ORDERLANE_MAX_ATTEMPTS). Defaults to 8.
	MaxAttempts int `yaml:"max_attempts"`
	// ShutdownGrace is how long, after SIGTERM, /readyz answers 503 while
	// the server still takes pushes, so a load balancer stops sending new
	// ones before the listener closes (ORDERLANE_SHUTDOWN_GRACE). Defaults
	// to 0: marketplaces retry a push that found the door closed.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// MaxEventAge bounds how long a failing event is retried, counted from
	// its append (ORDERLANE_MAX_EVENT_AGE): past it, its next failure
	// dead-letters it whatever its attempts. A store outage never counts.
	// Defaults to 0: no age limit, max_attempts alone.
	MaxEventAge time.Duration `yaml:"max_event_age"`
	// HoldOnDeadLetter lists the subscriptions in strict mode, comma
	// separated (ORDERLANE_HOLD_ON_DEAD_LETTER, e.g. "orders"): an order
	// one of whose events was dead-lettered gets nothing more applied until
	// that dead letter is replayed or discarded. Defaults to none: the
	// order moves on past it (see docs/failure-handling.md).
	HoldOnDeadLetter string `yaml:"hold_on_dead_letter"`
	// MinFreeDisk is the free space, in bytes, of the data dir's disk
	// below which pushes are refused with 503 and /readyz fails
	// (ORDERLANE_MIN_FREE_DISK). Defaults to 268435456 (256 MiB); -1 turns
	// the check off.
	MinFreeDisk int64 `yaml:"min_free_disk"`

	// SharedTimeout bounds each call to the shared tier (Redis or the
	// JetStream KV bucket) on a push's path (ORDERLANE_SHARED_TIMEOUT);
	// past it the gateway goes on with its in-process tier. Defaults to
	// 250ms.
	SharedTimeout time.Duration `yaml:"shared_timeout"`

	Redis  Redis  `yaml:"redis"`
	Dedup  Dedup  `yaml:"dedup"`
	Cache  Cache  `yaml:"cache"`
	Shopee Shopee `yaml:"shopee"`
	Lazada Lazada `yaml:"lazada"`
	TikTok TikTok `yaml:"tiktok"`

	// Database selects PostgreSQL for orders: see database.go.
	Database Database `yaml:"database"`
	// NATS selects an external NATS cluster for the topic: see nats.go.
	NATS NATS `yaml:"nats"`
	// Cluster: roles, partitions and worker identity for a deployment of
	// several processes (see cluster.go).
	Cluster Cluster `yaml:"cluster"`
	// MarketplaceAPI: token key, API hosts and limits, token refresh and
	// reconciliation for connected shops (see marketplaceapi.go).
	MarketplaceAPI MarketplaceAPI `yaml:"marketplace_api"`

	// HTTP, Throttle, TLS, TrustedProxies and Allow are the HTTP
	// server's hardening: see security.go and docs/security.md.
	HTTP     HTTP     `yaml:"http"`
	Throttle Throttle `yaml:"throttle"`
	TLS      TLS      `yaml:"tls"`
	// TrustedProxies are the proxies (CIDRs or addresses) whose
	// X-Forwarded-For is believed, for the client address that
	// throttling, allow-lists and logs use (ORDERLANE_TRUSTED_PROXIES,
	// comma separated). Empty (the default): the TCP peer is the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	Allow          Allow    `yaml:"allow"`
}

// Redis selects Redis as the shared tier of the idempotency filter and the
// caches. Unset (the default), the shared tier is a key-value bucket on
// the embedded JetStream server.
type Redis struct {
	// URL is redis://[user:password@]host:port/db, or rediss:// for TLS
	// (ORDERLANE_REDIS_URL). It carries the credentials: keep it secret.
	URL string `yaml:"url"`
	// TLSCA is a PEM file of the CAs that sign the server's certificate,
	// for a private CA (ORDERLANE_REDIS_TLS_CA); only with rediss://.
	// Empty uses the system's roots.
	TLSCA string `yaml:"tls_ca"`
}

// Dedup configures the gateway's idempotency filter.
type Dedup struct {
	// TTL is how long an accepted push's key is remembered
	// (ORDERLANE_DEDUP_TTL): the longest marketplace retry horizon.
	// Defaults to 72h; at least 1s.
	TTL time.Duration `yaml:"ttl"`
	// Memory is how many keys the in-process tier holds
	// (ORDERLANE_DEDUP_MEMORY), about 160 bytes each (16 MB at the
	// default). Defaults to 100000.
	Memory int `yaml:"memory"`
}

// Cache configures the look-up caches (shop configuration, order
// details).
type Cache struct {
	// TTL is how long a loaded value is kept in the shared tier
	// (ORDERLANE_CACHE_TTL). Defaults to 10m.
	TTL time.Duration `yaml:"ttl"`
	// MemoryTTL is how long a value is kept in process
	// (ORDERLANE_CACHE_MEMORY_TTL): how long an instance may serve a value
	// after another instance invalidated it. Defaults to 1m; at most TTL.
	MemoryTTL time.Duration `yaml:"memory_ttl"`
	// NegativeTTL is how long a "not found" is kept
	// (ORDERLANE_CACHE_NEGATIVE_TTL). Defaults to 30s.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// Memory is how many entries each cache holds in process
	// (ORDERLANE_CACHE_MEMORY). Defaults to 10000.
	Memory int `yaml:"memory"`
}

// Shopee holds the Shopee Open Platform settings.
type Shopee struct {
	// PartnerID (ORDERLANE_SHOPEE_PARTNER_ID) and PartnerKey
	// (ORDERLANE_SHOPEE_PARTNER_KEY) are the app's API credentials.
	PartnerID  string `yaml:"partner_id"`
	PartnerKey string `yaml:"partner_key"`
	// PushKey is the Live Push partner key (ORDERLANE_SHOPEE_PUSH_KEY);
	// pushes are verified with it, then with PartnerKey.
	PushKey string `yaml:"push_key"`
	// CallbackURL is the push URL exactly as registered in the Shopee
	// console (ORDERLANE_SHOPEE_CALLBACK_URL): Shopee signs it literally.
	CallbackURL string `yaml:"callback_url"`
}

// Lazada holds the Lazada Open Platform app credentials
// (ORDERLANE_LAZADA_APP_KEY, ORDERLANE_LAZADA_APP_SECRET).
type Lazada struct {
	AppKey    string `yaml:"app_key"`
	AppSecret string `yaml:"app_secret"`
}

// TikTok holds the TikTok Shop app credentials (ORDERLANE_TIKTOK_APP_KEY,
// ORDERLANE_TIKTOK_APP_SECRET).
type TikTok struct {
	AppKey    string `yaml:"app_key"`
	AppSecret string `yaml:"app_secret"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.Fsync == "" {
		c.Fsync = FsyncAlways
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 2 * time.Second
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Workers <= 0 {
		c.Workers = 128
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.MinFreeDisk == 0 {
		c.MinFreeDisk = 256 << 20
	}
	if c.SharedTimeout <= 0 {
		c.SharedTimeout = 250 * time.Millisecond
	}
	if c.Dedup.TTL <= 0 {
		c.Dedup.TTL = 72 * time.Hour
	}
	if c.Dedup.Memory <= 0 {
		c.Dedup.Memory = 100_000
	}
	if c.Cache.TTL <= 0 {
		c.Cache.TTL = 10 * time.Minute
	}
	if c.Cache.MemoryTTL <= 0 {
		c.Cache.MemoryTTL = min(time.Minute, c.Cache.TTL)
	}
	if c.Cache.NegativeTTL <= 0 {
		c.Cache.NegativeTTL = 30 * time.Second
	}
	if c.Cache.Memory <= 0 {
		c.Cache.Memory = 10_000
	}
	c.Database = c.Database.withDefaults()
	c.NATS = c.NATS.withDefaults()
	c.Cluster = c.Cluster.withDefaults()
	c.MarketplaceAPI = c.MarketplaceAPI.withDefaults()
	return c.securityDefaults()
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("config: http_addr %q: %w", c.HTTPAddr, err)
	}
	if _, err := c.FsyncInterval(); err != nil {
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.MaxBodyBytes > 64<<20 {
		return fmt.Errorf("config: max_body_bytes %d: at most 64 MiB", c.MaxBodyBytes)
	}
	if err := c.Redis.validate(); err != nil {
		return err
	}
	if err := c.Database.validate(); err != nil {
		return err
	}
	if err := c.NATS.validate(); err != nil {
		return err
	}
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			return fmt.Errorf("config: debug_addr %q: %w", c.DebugAddr, err)
		}
	}
	if err := c.MarketplaceAPI.validate(); err != nil {
		return err
	}
	if c.MaxEventAge < 0 {
		return fmt.Errorf("config: max_event_age %s: want 0 (no limit) or a positive duration", c.MaxEventAge)
	}
	if c.Dedup.TTL < time.Second {
		return fmt.Errorf("config: dedup.ttl %s: at least 1s", c.Dedup.TTL)
	}
	if c.Cache.MemoryTTL > c.Cache.TTL {
		return fmt.Errorf("config: cache.memory_ttl %s: at most cache.ttl (%s)", c.Cache.MemoryTTL, c.Cache.TTL)
	}
	if c.Shopee.CallbackURL != "" && !strings.HasPrefix(c.Shopee.CallbackURL, "http") {
		return fmt.Errorf("config: shopee.callback_url %q: want the full registered URL", c.Shopee.CallbackURL)
	}
	return c.validateSecurity()
}

// validate checks the URL's form without echoing it: it carries the
// password.
func (r Redis) validate() error {
	if r.URL == "" {
		if r.TLSCA != "" {
			return errors.New("config: redis.tls_ca is set but redis.url is not")
		}
		return nil
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" {
		return errors.New("config: redis.url: want redis://[user:password@]host:port/db, or rediss:// for TLS")
	}
	switch u.Scheme {
	case "redis":
		if r.TLSCA != "" {
			return errors.New("config: redis.tls_ca needs a rediss:// (TLS) redis.url")
		}
	case "rediss":
	default:
		return fmt.Errorf("config: redis.url: scheme %q, want redis or rediss", u.Scheme)
	}
	return nil
}

// The Fsync values other than an interval.
const (
	// FsyncAlways: fsync before every acknowledgement, by group commit.
	FsyncAlways = "always"
	// FsyncJetStream: fsync before every acknowledgement, by JetStream's
	// sync_always (one fsync per push).
	FsyncJetStream = "jetstream"
)

// FsyncInterval parses Fsync: the fsync period for an interval ("1s"), 0
// for "always" and "jetstream" (fsync before every acknowledgement).
func (c Config) FsyncInterval() (time.Duration, error) {
	if c.Fsync == FsyncAlways || c.Fsync == FsyncJetStream {
		return 0, nil
	}
	d, err := time.ParseDuration(c.Fsync)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf(`config: fsync %q: want "always", "jetstream" or a positive duration such as "1s"`, c.Fsync)
	}
	return d, nil
}

// PowerLossSafe reports whether Fsync makes every acknowledged push
// survive power loss ("always", "jetstream").
func (c Config) PowerLossSafe() bool {
	return c.Fsync == FsyncAlways || c.Fsync == FsyncJetStream
}

// Missing returns, per marketplace, the first unset setting its webhook
// needs (named as its environment variable); absent when complete.
func (c Config) Missing() map[string]string {
	out := map[string]string{}
	switch {
	case c.Shopee.PushKey == "" && c.Shopee.PartnerKey == "":
		out["shopee"] = "ORDERLANE_SHOPEE_PUSH_KEY"
	case c.Shopee.CallbackURL == "":
		out["shopee"] = "ORDERLANE_SHOPEE_CALLBACK_URL"
	}
	switch {
	case c.Lazada.AppKey == "":
		out["lazada"] = "ORDERLANE_LAZADA_APP_KEY"
	case c.Lazada.AppSecret == "":
		out["lazada"] = "ORDERLANE_LAZADA_APP_SECRET"
	}
	switch {
	case c.TikTok.AppKey == "":
		out["tiktok"] = "ORDERLANE_TIKTOK_APP_KEY"
	case c.TikTok.AppSecret == "":
		out["tiktok"] = "ORDERLANE_TIKTOK_APP_SECRET"
	}
	return out
}

// LoadFile reads a YAML file over c. Unknown keys are an error, so a typo
// does not silently fall back to a default.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path) // #nosec G304 -- the operator names their own config file
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// env lists the environment variables and where each goes.
func (c *Config) env() []envVar {
	return []envVar{
		{"ORDERLANE_HTTP_ADDR", &c.HTTPAddr},
		{"ORDERLANE_DATA_DIR", &c.DataDir},
		{"ORDERLANE_API_TOKEN", &c.APIToken},
		{"ORDERLANE_FSYNC", &c.Fsync},
		{"ORDERLANE_MAX_BODY_BYTES", &c.MaxBodyBytes},
		{"ORDERLANE_PUBLISH_TIMEOUT", &c.PublishTimeout},
		{"ORDERLANE_NATS_LISTEN", &c.NATSListen},
		{"ORDERLANE_DEBUG_ADDR", &c.DebugAddr},
		{"ORDERLANE_LOG_LEVEL", &c.LogLevel},
		{"ORDERLANE_WORKERS", &c.Workers},
		{"ORDERLANE_MAX_ATTEMPTS", &c.MaxAttempts},
		{"ORDERLANE_SHUTDOWN_GRACE", &c.ShutdownGrace},
		{"ORDERLANE_MAX_EVENT_AGE", &c.MaxEventAge},
		{"ORDERLANE_HOLD_ON_DEAD_LETTER", &c.HoldOnDeadLetter},
		{"ORDERLANE_MIN_FREE_DISK", &c.MinFreeDisk},
		{"ORDERLANE_SHARED_TIMEOUT", &c.SharedTimeout},
		{"ORDERLANE_REDIS_URL", &c.Redis.URL},
		{"ORDERLANE_REDIS_TLS_CA", &c.Redis.TLSCA},
		{"ORDERLANE_DEDUP_TTL", &c.Dedup.TTL},
		{"ORDERLANE_DEDUP_MEMORY", &c.Dedup.Memory},
		{"ORDERLANE_CACHE_TTL", &c.Cache.TTL},
		{"ORDERLANE_CACHE_MEMORY_TTL", &c.Cache.MemoryTTL},
		{"ORDERLANE_CACHE_NEGATIVE_TTL", &c.Cache.NegativeTTL},
		{"ORDERLANE_CACHE_MEMORY", &c.Cache.Memory},
		{"ORDERLANE_SHOPEE_PARTNER_ID", &c.Shopee.PartnerID},
		{"ORDERLANE_SHOPEE_PARTNER_KEY", &c.Shopee.PartnerKey},
		{"ORDERLANE_SHOPEE_PUSH_KEY", &c.Shopee.PushKey},
		{"ORDERLANE_SHOPEE_CALLBACK_URL", &c.Shopee.CallbackURL},
		{"ORDERLANE_LAZADA_APP_KEY", &c.Lazada.AppKey},
		{"ORDERLANE_LAZADA_APP_SECRET", &c.Lazada.AppSecret},
		{"ORDERLANE_TIKTOK_APP_KEY", &c.TikTok.AppKey},
		{"ORDERLANE_TIKTOK_APP_SECRET", &c.TikTok.AppSecret},
	}
}

type envVar struct {
	name string
	dst  any
}

// LoadEnv overrides c with the ORDERLANE_* variables that lookup finds
// (os.LookupEnv in main).
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	for _, v := range append(append(append(c.env(), c.securityEnv()...), c.Database.env()...), append(append(c.NATS.env(), c.Cluster.env()...), c.MarketplaceAPI.env()...)...) {
		s, ok := lookup(v.name)
		if !ok {
			continue
		}
		switch dst := v.dst.(type) {
		case *string:
			*dst = s
		case *int:
			n, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("config: %s=%q: want a whole number", v.name, s)
			}
			*dst = n
		case *int64:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("config: %s=%q: want a whole number", v.name, s)
			}
			*dst = n
		case *time.Duration:
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("config: %s=%q: want a duration such as 2s", v.name, s)
			}
			*dst = d
		case *float64:
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("config: %s=%q: want a number", v.name, s)
			}
			*dst = f
		case *[]string:
			*dst = nil
			for _, e := range strings.Split(s, ",") {
				if e = strings.TrimSpace(e); e != "" {
					*dst = append(*dst, e)
				}
			}
		}
	}
	return nil
}

// Load builds the configuration: defaults, then the YAML file at path (if
// not empty), then the environment.
func Load(path string, lookup func(string) (string, bool)) (Config, error) {
	var c Config
	if path != "" {
		if err := c.LoadFile(path); err != nil {
			return c, err
		}
	}
	if err := c.LoadEnv(lookup); err != nil {
		return c, err
	}
	c = c.WithDefaults()
	return c, c.Validate()
}

// BaseURL is the URL a client on this machine uses to reach HTTPAddr.
func (c Config) BaseURL() string {
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return "http://" + c.HTTPAddr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
