package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
)

func load(t *testing.T, env map[string]string) (config.Config, error) {
	t.Helper()
	return config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func TestMarketplaceAPISettings(t *testing.T) {
	t.Parallel()
	key := strings.Repeat("ab", 32)
	c, err := load(t, map[string]string{
		"ORDERLANE_TOKEN_KEY":             key,
		"ORDERLANE_PUBLIC_URL":            "https://orderlane.example/",
		"ORDERLANE_SHOPEE_PARTNER_ID":     "2001",
		"ORDERLANE_SHOPEE_PARTNER_KEY":    "pk",
		"ORDERLANE_LAZADA_APP_KEY":        "123456",
		"ORDERLANE_SHOPEE_API_URL":        "http://127.0.0.1:9001",
		"ORDERLANE_LAZADA_API_URL":        "http://127.0.0.1:9002",
		"ORDERLANE_LAZADA_AUTH_URL":       "http://127.0.0.1:9002/rest",
		"ORDERLANE_TIKTOK_API_URL":        "http://127.0.0.1:9003",
		"ORDERLANE_TIKTOK_AUTH_URL":       "http://127.0.0.1:9003",
		"ORDERLANE_TIKTOK_API_RATE":       "20",
		"ORDERLANE_TOKEN_REFRESH_BEFORE":  "1h",
		"ORDERLANE_TOKEN_REFRESH_EVERY":   "30s",
		"ORDERLANE_RECONCILE_INTERVAL":    "5m",
		"ORDERLANE_RECONCILE_MARGIN":      "20m",
		"ORDERLANE_RECONCILE_CONCURRENCY": "8",
	})
	if err != nil {
		t.Fatal(err)
	}
	m := c.MarketplaceAPI
	if m.ShopeeURL != "http://127.0.0.1:9001" || m.LazadaAuthURL != "http://127.0.0.1:9002/rest" || m.TikTokRate != 20 ||
		m.RefreshBefore != time.Hour || m.RefreshEvery != 30*time.Second || m.ReconcileMargin != 20*time.Minute || m.ReconcileConcurrency != 8 {
		t.Fatalf("settings: %+v", m)
	}
	if d, err := m.ReconcileInterval(); err != nil || d != 5*time.Minute {
		t.Fatalf("reconcile interval %s %v", d, err)
	}
	if k, err := m.TokenKeyBytes(); err != nil || len(k) != 32 || k[0] != 0xab {
		t.Fatalf("token key: %v", err)
	}
	// Shopee has both credentials; Lazada lacks its secret; TikTok has none.
	if en := c.APIEnabled(); !en["shopee"] || en["lazada"] || en["tiktok"] {
		t.Fatalf("enabled %v", en)
	}
	if got := c.ConnectBaseURL(); got != "https://orderlane.example" {
		t.Fatalf("connect base %q", got)
	}
	if s := fmt.Sprint(m); strings.Contains(s, key) {
		t.Fatal("the token key is printed")
	}
}

func TestMarketplaceAPIDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, map[string]string{"ORDERLANE_SHOPEE_PARTNER_ID": "2001", "ORDERLANE_SHOPEE_PARTNER_KEY": "pk"})
	if err != nil {
		t.Fatal(err)
	}
	m := c.MarketplaceAPI
	if d, _ := m.ReconcileInterval(); d != 10*time.Minute || m.ReconcileMargin != 15*time.Minute ||
		m.RefreshBefore != 30*time.Minute || m.RefreshEvery != time.Minute || m.ReconcileConcurrency != 4 {
		t.Fatalf("defaults: %+v", m)
	}
	// Credentials without the token key: no API (pushes only).
	if en := c.APIEnabled(); en["shopee"] {
		t.Fatal("shopee API enabled without a token key")
	}
	if got := c.ConnectBaseURL(); got != "http://127.0.0.1:8080" {
		t.Fatalf("connect base %q", got)
	}
	c, err = load(t, map[string]string{"ORDERLANE_RECONCILE_INTERVAL": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.MarketplaceAPI.ReconcileInterval(); err != nil || d != 0 {
		t.Fatalf("interval 0: %s %v, want off", d, err)
	}
}

func TestMarketplaceAPIRefusals(t *testing.T) {
	t.Parallel()
	secret := "c2VjcmV0LWJ1dC10b28tc2hvcnQ"
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"short key":        {map[string]string{"ORDERLANE_TOKEN_KEY": secret}, "token_key"},
		"not a key":        {map[string]string{"ORDERLANE_TOKEN_KEY": "not a key!"}, "token_key"},
		"bad interval":     {map[string]string{"ORDERLANE_RECONCILE_INTERVAL": "soon"}, "reconcile_interval"},
		"negative":         {map[string]string{"ORDERLANE_RECONCILE_INTERVAL": "-1m"}, "reconcile_interval"},
		"url with query":   {map[string]string{"ORDERLANE_SHOPEE_API_URL": "http://x/?a=b"}, "shopee_url"},
		"url not http":     {map[string]string{"ORDERLANE_TIKTOK_AUTH_URL": "ftp://x"}, "tiktok_auth_url"},
		"public no host":   {map[string]string{"ORDERLANE_PUBLIC_URL": "orderlane.example"}, "public_url"},
		"refresh too late": {map[string]string{"ORDERLANE_TOKEN_REFRESH_BEFORE": "10s"}, "refresh_before"},
	} {
		_, err := load(t, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error repeats the key", name)
		}
	}
}
