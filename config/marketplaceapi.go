package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/orderlane/orderlane/shop"
)

// MarketplaceAPI holds what orderlane needs to call the marketplaces' Open
// APIs for the shops sellers connect: the key that encrypts their tokens
// at rest, the hosts (to point a deployment at the sandbox), client-side
// rate limits, the token refresher and the reconciliation schedule.
//
// A marketplace's API is enabled when its API credentials are set (Shopee
// PartnerID and PartnerKey; Lazada and TikTok AppKey and AppSecret) and
// TokenKey is set: without the key no shop can be connected, and the
// pipeline runs on push data alone.
type MarketplaceAPI struct {
	// TokenKey encrypts the shops' tokens at rest (ORDERLANE_TOKEN_KEY):
	// 32 bytes written as hex or base64 (`openssl rand -base64 32`). It
	// is a secret: never logged, never in an error. Required for any
	// marketplace API; unset, the APIs are off.
	TokenKey string `yaml:"token_key"`
	// PublicURL is the scheme and host at which sellers' browsers reach
	// this server (ORDERLANE_PUBLIC_URL): the marketplaces redirect them
	// to PublicURL + "/connect/{platform}/callback" after consent, which
	// must be the callback URL registered in the Lazada and TikTok
	// consoles. Defaults to the local address (Config.BaseURL).
	PublicURL string `yaml:"public_url"`

	// ShopeeURL is Shopee's API host (ORDERLANE_SHOPEE_API_URL); it also
	// serves the authorisation page. Defaults to the production host.
	ShopeeURL string `yaml:"shopee_url"`
	// LazadaURL replaces Lazada's regional API hosts
	// (ORDERLANE_LAZADA_API_URL) and LazadaAuthURL its token API host
	// (ORDERLANE_LAZADA_AUTH_URL; defaults to LazadaURL when that is set,
	// else the production host). The authorisation page is at
	// LazadaAuthURL's host, path /oauth/authorize.
	LazadaURL     string `yaml:"lazada_url"`
	LazadaAuthURL string `yaml:"lazada_auth_url"`
	// TikTokURL is TikTok Shop's API host (ORDERLANE_TIKTOK_API_URL) and
	// TikTokAuthURL its auth host (ORDERLANE_TIKTOK_AUTH_URL), which
	// serves the token APIs and the authorisation page. Default to the
	// production hosts.
	TikTokURL     string `yaml:"tiktok_url"`
	TikTokAuthURL string `yaml:"tiktok_auth_url"`

	// ShopeeRate, LazadaRate and TikTokRate limit requests per second per
	// API path and shop on this side (ORDERLANE_SHOPEE_API_RATE,
	// ORDERLANE_LAZADA_API_RATE, ORDERLANE_TIKTOK_API_RATE). 0 (the
	// default) takes each client's default: 10/s for Shopee and Lazada,
	// TikTok's documented 50/s; a negative value turns the limit off.
	ShopeeRate float64 `yaml:"shopee_rate"`
	LazadaRate float64 `yaml:"lazada_rate"`
	TikTokRate float64 `yaml:"tiktok_rate"`

	// RefreshBefore is how long before its expiry a shop's access token
	// is renewed (ORDERLANE_TOKEN_REFRESH_BEFORE). Defaults to 30m.
	RefreshBefore time.Duration `yaml:"refresh_before"`
	// RefreshEvery is how often the refresher looks for tokens to renew
	// (ORDERLANE_TOKEN_REFRESH_EVERY). Defaults to 1m.
	RefreshEvery time.Duration `yaml:"refresh_every"`

	// Reconcile is how often each connected shop's orders updated since
	// its watermark are pulled (ORDERLANE_RECONCILE_INTERVAL): a duration,
	// or "0" to turn reconciliation off. Defaults to "10m". Read it with
	// ReconcileInterval.
	Reconcile string `yaml:"reconcile_interval"`
	// ReconcileMargin is how far before the watermark a pull starts, for
	// orders the marketplace records late (ORDERLANE_RECONCILE_MARGIN).
	// Defaults to 15m.
	ReconcileMargin time.Duration `yaml:"reconcile_margin"`
	// ReconcileConcurrency is how many shops are reconciled at once
	// (ORDERLANE_RECONCILE_CONCURRENCY). Defaults to 4.
	ReconcileConcurrency int `yaml:"reconcile_concurrency"`
}

// String never shows the token key.
func (m MarketplaceAPI) String() string {
	key := "unset"
	if m.TokenKey != "" {
		key = "set"
	}
	return fmt.Sprintf("config.MarketplaceAPI{TokenKey: %s, PublicURL: %s}", key, m.PublicURL)
}

func (m MarketplaceAPI) withDefaults() MarketplaceAPI {
	if m.RefreshBefore <= 0 {
		m.RefreshBefore = 30 * time.Minute
	}
	if m.RefreshEvery <= 0 {
		m.RefreshEvery = time.Minute
	}
	if strings.TrimSpace(m.Reconcile) == "" {
		m.Reconcile = "10m"
	}
	if m.ReconcileMargin <= 0 {
		m.ReconcileMargin = 15 * time.Minute
	}
	if m.ReconcileConcurrency <= 0 {
		m.ReconcileConcurrency = 4
	}
	return m
}

// ReconcileInterval parses Reconcile: 0 means reconciliation is off.
func (m MarketplaceAPI) ReconcileInterval() (time.Duration, error) {
	s := strings.TrimSpace(m.Reconcile)
	if s == "0" || s == "off" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf(`config: reconcile_interval %q: want a duration such as "10m", or 0 (off)`, m.Reconcile)
	}
	if d > 0 && d < time.Second {
		return 0, fmt.Errorf("config: reconcile_interval %s: at least 1s, or 0 (off)", d)
	}
	return d, nil
}

// TokenKeyBytes returns the parsed TokenKey, or nil when it is unset.
// Errors name the setting, never the key.
func (m MarketplaceAPI) TokenKeyBytes() ([]byte, error) {
	if strings.TrimSpace(m.TokenKey) == "" {
		return nil, nil
	}
	k, err := shop.ParseKey(m.TokenKey)
	if err != nil {
		return nil, fmt.Errorf("config: token_key (ORDERLANE_TOKEN_KEY): %w", err)
	}
	return k, nil
}

func (m MarketplaceAPI) validate() error {
	if _, err := m.TokenKeyBytes(); err != nil {
		return err
	}
	if _, err := m.ReconcileInterval(); err != nil {
		return err
	}
	for _, u := range []struct{ name, v string }{
		{"public_url", m.PublicURL},
		{"shopee_url", m.ShopeeURL},
		{"lazada_url", m.LazadaURL}, {"lazada_auth_url", m.LazadaAuthURL},
		{"tiktok_url", m.TikTokURL}, {"tiktok_auth_url", m.TikTokAuthURL},
	} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" {
			return fmt.Errorf("config: %s %q: want an http(s) URL with a host and no query", u.name, u.v)
		}
	}
	if m.RefreshBefore < time.Minute {
		return fmt.Errorf("config: refresh_before %s: at least 1m", m.RefreshBefore)
	}
	if m.ReconcileConcurrency > 256 {
		return errors.New("config: reconcile_concurrency: at most 256")
	}
	return nil
}

func (m *MarketplaceAPI) env() []envVar {
	return []envVar{
		{"ORDERLANE_TOKEN_KEY", &m.TokenKey},
		{"ORDERLANE_PUBLIC_URL", &m.PublicURL},
		{"ORDERLANE_SHOPEE_API_URL", &m.ShopeeURL},
		{"ORDERLANE_LAZADA_API_URL", &m.LazadaURL},
		{"ORDERLANE_LAZADA_AUTH_URL", &m.LazadaAuthURL},
		{"ORDERLANE_TIKTOK_API_URL", &m.TikTokURL},
		{"ORDERLANE_TIKTOK_AUTH_URL", &m.TikTokAuthURL},
		{"ORDERLANE_SHOPEE_API_RATE", &m.ShopeeRate},
		{"ORDERLANE_LAZADA_API_RATE", &m.LazadaRate},
		{"ORDERLANE_TIKTOK_API_RATE", &m.TikTokRate},
		{"ORDERLANE_TOKEN_REFRESH_BEFORE", &m.RefreshBefore},
		{"ORDERLANE_TOKEN_REFRESH_EVERY", &m.RefreshEvery},
		{"ORDERLANE_RECONCILE_INTERVAL", &m.Reconcile},
		{"ORDERLANE_RECONCILE_MARGIN", &m.ReconcileMargin},
		{"ORDERLANE_RECONCILE_CONCURRENCY", &m.ReconcileConcurrency},
	}
}

// APIEnabled reports, per marketplace ("shopee", "lazada", "tiktok"),
// whether its API is enabled: its API credentials and the token key are
// set.
func (c Config) APIEnabled() map[string]bool {
	key := strings.TrimSpace(c.MarketplaceAPI.TokenKey) != ""
	return map[string]bool{
		"shopee": key && c.Shopee.PartnerID != "" && c.Shopee.PartnerKey != "",
		"lazada": key && c.Lazada.AppKey != "" && c.Lazada.AppSecret != "",
		"tiktok": key && c.TikTok.AppKey != "" && c.TikTok.AppSecret != "",
	}
}

// ConnectBaseURL is the base of the connect callbacks: PublicURL, else
// BaseURL, without a trailing slash.
func (c Config) ConnectBaseURL() string {
	if c.MarketplaceAPI.PublicURL != "" {
		return strings.TrimSuffix(c.MarketplaceAPI.PublicURL, "/")
	}
	return c.BaseURL()
}
