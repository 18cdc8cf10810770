package refresh_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/shop/refresh"
	"github.com/orderlane/orderlane/store/sqlite"
)

// fakeClient answers Refresh from a table of results per shop.
type fakeClient struct {
	marketplace.Client
	mu     sync.Mutex
	calls  map[string]int
	result func(s marketplace.Shop) (marketplace.Token, error)
}

func (f *fakeClient) Refresh(_ context.Context, s marketplace.Shop) (marketplace.Token, error) {
	f.mu.Lock()
	f.calls[s.ShopID]++
	f.mu.Unlock()
	return f.result(s)
}

func setup(t *testing.T) shop.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "shops.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := shop.NewSealer(make([]byte, shop.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return st.Shops(sealer)
}

func put(t *testing.T, st shop.Store, id string, state shop.State, tok marketplace.Token) {
	t.Helper()
	if err := st.Put(context.Background(), shop.Connection{
		Shop: marketplace.Shop{Platform: order.Shopee, ShopID: id, Token: tok}, State: state, ConnectedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRound: one round renews what is due and only that; a refusal marks
// the shop Expired, a temporary failure keeps it Connected with the error
// (retried next round); a spent refresh token is not even sent; a shop
// another process refreshed meanwhile is not marked Expired.
func TestRound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := setup(t)
	now := time.Now()
	due := func(rt string) marketplace.Token {
		return marketplace.Token{AccessToken: "a-" + rt, RefreshToken: rt, AccessExpiresAt: now.Add(10 * time.Minute), RefreshExpiresAt: now.Add(24 * time.Hour)}
	}
	put(t, st, "1", shop.Connected, due("r1"))                                                                                                               // refreshed
	put(t, st, "2", shop.Connected, marketplace.Token{AccessToken: "a2", RefreshToken: "r2", AccessExpiresAt: now.Add(3 * time.Hour)})                       // not due
	put(t, st, "3", shop.Connected, due("r3"))                                                                                                               // refused
	put(t, st, "4", shop.Connected, due("r4"))                                                                                                               // temporary
	put(t, st, "5", shop.Connected, marketplace.Token{AccessToken: "a5", RefreshToken: "r5", AccessExpiresAt: now, RefreshExpiresAt: now.Add(-time.Second)}) // refresh token expired
	put(t, st, "6", shop.Revoked, due("r6"))                                                                                                                 // left alone
	put(t, st, "7", shop.Connected, due("r7"))                                                                                                               // superseded
	c := &fakeClient{calls: map[string]int{}, result: func(s marketplace.Shop) (marketplace.Token, error) {
		switch s.ShopID {
		case "3":
			return marketplace.Token{}, &marketplace.APIError{Platform: order.Shopee, Status: 403, Code: "error_auth", Kind: marketplace.ErrAuth}
		case "4":
			return marketplace.Token{}, &marketplace.APIError{Platform: order.Shopee, Status: 503, Code: "error_server", Kind: marketplace.ErrTemporary}
		case "7":
			// Another process refreshed first; ours is refused.
			if _, err := st.Update(ctx, order.Shopee, "7", func(c *shop.Connection) error {
				c.Token = marketplace.Token{AccessToken: "a7-new", RefreshToken: "r7-new", AccessExpiresAt: now.Add(4 * time.Hour)}
				return nil
			}); err != nil {
				t.Error(err)
			}
			return marketplace.Token{}, &marketplace.APIError{Platform: order.Shopee, Status: 403, Code: "error_auth", Kind: marketplace.ErrAuth}
		}
		return marketplace.Token{AccessToken: "new-" + s.ShopID, RefreshToken: "rnew-" + s.ShopID, AccessExpiresAt: now.Add(4 * time.Hour)}, nil
	}}
	r, err := refresh.New(refresh.Config{Store: st, Clients: map[order.Platform]marketplace.Client{order.Shopee: c},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Round(ctx)
	if got[refresh.OutcomeRefreshed] != 1 || got[refresh.OutcomeExpired] != 2 || got[refresh.OutcomeFailed] != 2 {
		t.Fatalf("outcomes %v", got)
	}
	for id, want := range map[string]int{"1": 1, "2": 0, "3": 1, "4": 1, "5": 0, "6": 0, "7": 1} {
		if c.calls[id] != want {
			t.Errorf("shop %s: %d refresh calls, want %d", id, c.calls[id], want)
		}
	}
	check := func(id string, state shop.State, access string, withErr bool) {
		t.Helper()
		s, err := st.Get(ctx, order.Shopee, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.State != state || s.Token.AccessToken != access || (s.LastError != "") != withErr {
			t.Errorf("shop %s: %s %q last error %q; want %s %q error %v", id, s.State, s.Token.AccessToken, s.LastError, state, access, withErr)
		}
	}
	check("1", shop.Connected, "new-1", false)
	check("2", shop.Connected, "a2", false)
	check("3", shop.Expired, "a-r3", true)
	check("4", shop.Connected, "a-r4", true)
	check("5", shop.Expired, "a5", true)
	check("6", shop.Revoked, "a-r6", false)
	check("7", shop.Connected, "a7-new", false)

	// Next round: the temporary failure is retried and clears the error;
	// nothing else is called again.
	c.result = func(s marketplace.Shop) (marketplace.Token, error) {
		return marketplace.Token{AccessToken: "new-" + s.ShopID, RefreshToken: "rnew-" + s.ShopID, AccessExpiresAt: now.Add(4 * time.Hour)}, nil
	}
	if got := r.Round(ctx); got[refresh.OutcomeRefreshed] != 1 || len(got) != 1 {
		t.Fatalf("second round: %v", got)
	}
	check("4", shop.Connected, "new-4", false)
}

// TestStartStop: Start runs rounds until Stop, which waits for them.
func TestStartStop(t *testing.T) {
	t.Parallel()
	st := setup(t)
	put(t, st, "1", shop.Connected, marketplace.Token{AccessToken: "a", RefreshToken: "r", AccessExpiresAt: time.Now()})
	done := make(chan struct{})
	var once sync.Once
	c := &fakeClient{calls: map[string]int{}, result: func(marketplace.Shop) (marketplace.Token, error) {
		once.Do(func() { close(done) })
		return marketplace.Token{}, errors.New("boom")
	}}
	r, err := refresh.New(refresh.Config{Store: st, Clients: map[order.Platform]marketplace.Client{order.Shopee: c},
		Every: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no round ran")
	}
	r.Stop()
	r.Stop()
}
