package connect

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStates(t *testing.T, key string, c *clock) *States {
	t.Helper()
	s, err := NewStates(DeriveStateKey([]byte(key)), 0, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStates(t *testing.T) {
	t.Parallel()
	c := &clock{time.Unix(1_800_000_000, 0)}
	s := newStates(t, "k1-0123456789abcdef0123456789abcdef", c)
	state, exp, err := s.Issue(order.Lazada, "")
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(c.t.Add(DefaultStateTTL)) {
		t.Fatalf("expires %s", exp)
	}
	if id, err := s.Check(order.Lazada, state); err != nil || id != "" {
		t.Fatalf("own state: %q %v", id, err)
	}
	named, _, _ := s.Issue(order.TikTok, "7494049642642441621")
	if id, err := s.Check(order.TikTok, named); err != nil || id != "7494049642642441621" {
		t.Fatalf("named state: %q %v", id, err)
	}
	other := newStates(t, "k2-0123456789abcdef0123456789abcdef", c)
	payload, sig, _ := strings.Cut(state, ".")
	flipped := []byte(sig)
	flipped[0] ^= 1
	for name, tc := range map[string]struct {
		s     *States
		p     order.Platform
		state string
	}{
		"other platform":  {s, order.TikTok, state},
		"other key":       {other, order.Lazada, state},
		"altered sig":     {s, order.Lazada, payload + "." + string(flipped)},
		"no sig":          {s, order.Lazada, payload},
		"empty":           {s, order.Lazada, ""},
		"garbage":         {s, order.Lazada, "%%%.%%%"},
		"too long":        {s, order.Lazada, strings.Repeat("a", MaxStateLen+1)},
		"swapped payload": {s, order.Lazada, strings.SplitN(named, ".", 2)[0] + "." + sig},
	} {
		if _, err := tc.s.Check(tc.p, tc.state); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: %v, want ErrBadState", name, err)
		}
	}
	c.t = exp.Add(-time.Second)
	if _, err := s.Check(order.Lazada, state); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	c.t = exp
	if _, err := s.Check(order.Lazada, state); !errors.Is(err, ErrStateExpired) {
		t.Fatalf("at expiry: %v, want ErrStateExpired", err)
	}
	if _, _, err := s.Issue(order.Shopee, "12.3"); err == nil {
		t.Fatal("a shop id with a dot was put in a state")
	}
	if _, err := NewStates([]byte("short"), 0, nil); err == nil {
		t.Fatal("a short key was accepted")
	}
}

// FuzzStatesCheck: nothing passes but a state issued here (each fuzz
// worker issues its own, for shop 880001), never for another marketplace,
// and nothing panics.
func FuzzStatesCheck(f *testing.F) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	s, _ := NewStates(DeriveStateKey([]byte("fuzz-key-0123456789abcdef0123456789")), 0, c.now)
	good, _, _ := s.Issue(order.Shopee, "880001")
	f.Add(good)
	f.Add("bG9s.bG9s")
	f.Add("")
	f.Fuzz(func(t *testing.T, state string) {
		id, err := s.Check(order.Shopee, state)
		if err == nil && id != "880001" {
			t.Fatalf("accepted %q naming shop %q", state, id)
		}
		if _, err := s.Check(order.Lazada, state); err == nil {
			t.Fatalf("accepted %q for another marketplace", state)
		}
	})
}

func TestAuthURLs(t *testing.T) {
	t.Parallel()
	now := time.Unix(1594897040, 0)
	u, _ := url.Parse(ShopeeAuthURL("", "10090", "pkey", "https://ol.example/connect/shopee/callback?state=abc", now))
	q := u.Query()
	if u.Scheme+"://"+u.Host != ShopeeAuthHost || u.Path != ShopeeAuthPath || q.Get("timestamp") != "1594897040" ||
		q.Get("sign") != shopee.SignAPI("pkey", "10090", ShopeeAuthPath, 1594897040, "", "") ||
		q.Get("redirect") != "https://ol.example/connect/shopee/callback?state=abc" {
		t.Fatalf("shopee: %s", u)
	}
	u, _ = url.Parse(LazadaAuthURL("http://127.0.0.1:9/rest", "123456", "https://ol.example/cb", "st"))
	q = u.Query()
	if u.Host != "127.0.0.1:9" || u.Path != LazadaAuthPath || q.Get("client_id") != "123456" || q.Get("state") != "st" ||
		q.Get("redirect_uri") != "https://ol.example/cb" || q.Get("response_type") != "code" {
		t.Fatalf("lazada: %s", u)
	}
	if got := LazadaAuthURL("", "1", "r", "s"); !strings.HasPrefix(got, LazadaAuthHost+LazadaAuthPath+"?") {
		t.Fatalf("lazada default host: %s", got)
	}
	u, _ = url.Parse(TikTokAuthURL("", "29a39d", "st"))
	if u.Scheme+"://"+u.Host != TikTokAuthHost || u.Path != TikTokAuthPath || u.Query().Get("app_key") != "29a39d" || u.Query().Get("state") != "st" {
		t.Fatalf("tiktok: %s", u)
	}
}
