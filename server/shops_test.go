package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
	"github.com/orderlane/orderlane/sandbox/shopeesim"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
	"github.com/orderlane/orderlane/server"
	"github.com/orderlane/orderlane/shop"
)

const (
	shopPartnerID  = "2001"
	shopPartnerKey = "shopee-partner-key-test"
	shopPushKey    = "shopee-push-key-test"
	shopCallback   = "https://seller.example/webhooks/shopee"
	lazAppKey      = "123456"
	lazSecret      = "lazada-secret-test"
	ttAppKey       = "29a39d"
	ttSecret       = "tiktok-secret-test"
	testTokenKey   = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

// shopsRig is a server with all three marketplace APIs enabled against
// the sandbox fakes over HTTP.
type shopsRig struct {
	sale *sandbox.Sale
	srv  *server.Server
	cfg  config.Config
	base string
	// shops are the sandbox's shop ids per platform.
	shops map[order.Platform][]string
	// markets are the fakes the APIs serve, for sandbox.Deliver.
	markets map[order.Platform]sandbox.Marketplace
}

func newShopsRig(t *testing.T, mods ...func(*config.Config)) *shopsRig {
	t.Helper()
	sale := sandbox.NewSale(nil)
	sale.SetApp(order.Shopee, sandbox.App{Key: shopPartnerID, Secret: shopPartnerKey, PushKey: shopPushKey})
	sale.SetApp(order.Lazada, sandbox.App{Key: lazAppKey, Secret: lazSecret})
	sale.SetApp(order.TikTok, sandbox.App{Key: ttAppKey, Secret: ttSecret})
	shops := map[order.Platform][]string{
		order.Shopee: {"880001", "880002", "880003"},
		order.Lazada: {"1000001", "1000002", "1000003"},
		order.TikTok: {"7494049642642441621", "7494049642642441622", "7494049642642441623"},
	}
	for p, ids := range shops {
		for i, id := range ids {
			sh := sandbox.Shop{Platform: p, ShopID: id, Region: "sg"}
			if p == order.TikTok {
				sh.Cipher, sh.Region = fmt.Sprintf("ROW_cipher%d", i), "ID"
			}
			if p == order.Shopee {
				sh.Region = "SG"
			}
			sale.AddShop(sh)
		}
	}
	return startShopsRig(t, sale, mods...)
}

// startShopsRig serves the three fakes over sale (its apps and shops set)
// and starts a server with their apps' credentials and API URLs.
func startShopsRig(t *testing.T, sale *sandbox.Sale, mods ...func(*config.Config)) *shopsRig {
	t.Helper()
	r := &shopsRig{sale: sale, shops: map[order.Platform][]string{}, markets: map[order.Platform]sandbox.Marketplace{
		order.Shopee: shopeesim.New(sale, shopeesim.Config{CallbackURL: shopCallback}),
		order.Lazada: lazadasim.New(sale, lazadasim.Config{}),
		order.TikTok: tiktoksim.New(sale, tiktoksim.Config{}),
	}}
	urls := map[order.Platform]string{}
	for p, m := range r.markets {
		ts := httptest.NewServer(m.Handler())
		t.Cleanup(ts.Close)
		urls[p] = ts.URL
		for _, sh := range sale.Shops(p) {
			r.shops[p] = append(r.shops[p], sh.ShopID)
		}
	}
	app := func(p order.Platform) sandbox.App { a, _ := sale.App(p); return a }
	r.cfg = config.Config{
		HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), APIToken: "test-token",
		Shopee: config.Shopee{PartnerID: app(order.Shopee).Key, PartnerKey: app(order.Shopee).Secret, PushKey: app(order.Shopee).PushKey, CallbackURL: shopCallback},
		Lazada: config.Lazada{AppKey: app(order.Lazada).Key, AppSecret: app(order.Lazada).Secret},
		TikTok: config.TikTok{AppKey: app(order.TikTok).Key, AppSecret: app(order.TikTok).Secret},
		MarketplaceAPI: config.MarketplaceAPI{
			TokenKey:  testTokenKey,
			ShopeeURL: urls[order.Shopee], LazadaURL: urls[order.Lazada], TikTokURL: urls[order.TikTok], TikTokAuthURL: urls[order.TikTok],
			RefreshEvery: 50 * time.Millisecond,
		},
	}.WithDefaults()
	for _, m := range mods {
		m(&r.cfg)
	}
	if err := r.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), r.cfg, slog.New(slog.NewTextHandler(testLogOut, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	r.srv, r.base = srv, "http://"+srv.Addr()
	return r
}

func (r *shopsRig) do(t *testing.T, method, path string, auth bool) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer test-token")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// begin asks for the consent link of p and returns the state it carries.
func (r *shopsRig) begin(t *testing.T, p order.Platform, shopID string) string {
	t.Helper()
	code, body := r.do(t, http.MethodPost, "/api/v1/shops/connect/"+string(p)+"?shop_id="+shopID, true)
	if code != http.StatusOK {
		t.Fatalf("connect %s: %d %s", p, code, body)
	}
	var a struct {
		URL         string    `json:"authorize_url"`
		ExpiresAt   time.Time `json:"expires_at"`
		CallbackURL string    `json:"callback_url"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	if want := r.base + "/connect/" + string(p) + "/callback"; a.CallbackURL != want {
		t.Fatalf("callback_url %q, want %q", a.CallbackURL, want)
	}
	if d := time.Until(a.ExpiresAt); d < 14*time.Minute || d > 16*time.Minute {
		t.Fatalf("expires_at %s: want about 15 minutes ahead", a.ExpiresAt)
	}
	u, err := url.Parse(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	app, _ := r.sale.App(p)
	switch p {
	case order.Shopee:
		ts := q.Get("timestamp")
		var n int64
		fmt.Sscan(ts, &n)
		if u.Path != "/api/v2/shop/auth_partner" || q.Get("partner_id") != app.Key ||
			q.Get("sign") != shopee.SignAPI(app.Secret, app.Key, "/api/v2/shop/auth_partner", n, "", "") {
			t.Fatalf("shopee authorize url %s: wrong path, partner or sign", a.URL)
		}
		red, err := url.Parse(q.Get("redirect"))
		if err != nil || !strings.HasPrefix(q.Get("redirect"), a.CallbackURL+"?state=") {
			t.Fatalf("shopee redirect %q: want the callback with the state", q.Get("redirect"))
		}
		return red.Query().Get("state")
	case order.Lazada:
		if u.Path != "/oauth/authorize" || q.Get("client_id") != app.Key || q.Get("redirect_uri") != a.CallbackURL || q.Get("response_type") != "code" {
			t.Fatalf("lazada authorize url %s", a.URL)
		}
	case order.TikTok:
		if u.Path != "/oauth/authorize" || q.Get("app_key") != app.Key {
			t.Fatalf("tiktok authorize url %s", a.URL)
		}
	}
	return q.Get("state")
}

// connect connects shop id of p through the whole flow: the admin's
// consent link, then the marketplace's redirect with the sandbox's code.
func (r *shopsRig) connect(t *testing.T, p order.Platform, id string) {
	t.Helper()
	named := ""
	if p == order.TikTok {
		named = id // TikTok's redirect names no shop
	}
	state := r.begin(t, p, named)
	if status, body := r.callback(t, p, r.sale.AuthCode(p, id), state, id); status != http.StatusOK {
		t.Fatalf("%s/%s callback: %d %s", p, id, status, body)
	}
}

func (r *shopsRig) callback(t *testing.T, p order.Platform, code, state, shopID string) (int, []byte) {
	t.Helper()
	q := url.Values{"code": {code}, "state": {state}}
	if p == order.Shopee {
		q.Set("shop_id", shopID)
	}
	return r.do(t, http.MethodGet, "/connect/"+string(p)+"/callback?"+q.Encode(), false)
}

// TestConnectShops connects one shop of each marketplace through the
// whole flow against the sandbox: the admin gets the consent link, the
// marketplace's redirect (code from the sandbox's consent, the state of
// the link) stores the shop Connected with tokens that work at the
// marketplace, sealed in the database file, and the listing shows the
// shop without its tokens.
func TestConnectShops(t *testing.T) {
	t.Parallel()
	r := newShopsRig(t)
	ctx := context.Background()
	var tokens []marketplace.Token
	for _, p := range []order.Platform{order.Shopee, order.Lazada, order.TikTok} {
		id := r.shops[p][0]
		state := r.begin(t, p, "")
		code := r.sale.AuthCode(p, id)
		status, body := r.callback(t, p, code, state, id)
		if status != http.StatusOK || !strings.Contains(string(body), `"connected"`) || !strings.Contains(string(body), id) {
			t.Fatalf("%s callback: %d %s", p, status, body)
		}
		c, err := r.srv.Shops().Get(ctx, p, id)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if c.State != shop.Connected || c.ConnectedAt.IsZero() || c.Token.AccessToken == "" {
			t.Fatalf("%s: stored %+v", p, c.State)
		}
		if _, ok := r.sale.Authorize(p, c.Token.AccessToken); !ok {
			t.Fatalf("%s: the stored access token does not work at the marketplace", p)
		}
		if strings.Contains(string(body), c.Token.AccessToken) || strings.Contains(string(body), code) {
			t.Fatalf("%s: the callback's answer shows a token or the code", p)
		}
		// A code is good once: a replay of the redirect is refused by the
		// marketplace and changes nothing.
		if status, body := r.callback(t, p, code, state, id); status != http.StatusBadGateway || strings.Contains(string(body), code) {
			t.Fatalf("%s replayed code: %d %s", p, status, body)
		}
		tokens = append(tokens, c.Token)
	}
	if c, _ := r.srv.Shops().Get(ctx, order.TikTok, r.shops[order.TikTok][0]); c.Cipher != "ROW_cipher0" {
		t.Fatalf("tiktok cipher %q: want the shops API's", c.Cipher)
	}

	status, body := r.do(t, http.MethodGet, "/api/v1/shops", true)
	if status != http.StatusOK {
		t.Fatalf("list: %d %s", status, body)
	}
	var list struct {
		Shops []struct {
			Platform        string     `json:"platform"`
			ShopID          string     `json:"shop_id"`
			State           string     `json:"state"`
			ConnectedAt     *time.Time `json:"connected_at"`
			AccessExpiresAt *time.Time `json:"access_expires_at"`
		} `json:"shops"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Shops) != 3 {
		t.Fatalf("list: %s", body)
	}
	for _, s := range list.Shops {
		if s.State != "connected" || s.ConnectedAt == nil || s.AccessExpiresAt == nil {
			t.Fatalf("listed %+v", s)
		}
	}
	if status, _ := r.do(t, http.MethodGet, "/api/v1/shops", false); status != http.StatusUnauthorized {
		t.Fatalf("list without a token: %d", status)
	}

	var db []byte
	for _, f := range []string{"orderlane.db", "orderlane.db-wal"} {
		b, err := os.ReadFile(filepath.Join(r.cfg.DataDir, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		db = append(db, b...)
	}
	if !strings.Contains(string(db), r.shops[order.Shopee][0]) {
		t.Fatal("the database file does not hold the shops: wrong file read")
	}
	for _, tok := range tokens {
		for _, secret := range []string{tok.AccessToken, tok.RefreshToken} {
			if strings.Contains(string(body), secret) {
				t.Fatal("GET /api/v1/shops shows a token")
			}
			if strings.Contains(string(db), secret) {
				t.Fatal("a token is in the database file in clear")
			}
		}
	}
}

// TestConnectRefusesBadState: a forged, altered or other marketplace's
// state is refused before the code is spent, with a JSON error that
// repeats neither the code nor the state.
func TestConnectRefusesBadState(t *testing.T) {
	t.Parallel()
	r := newShopsRig(t)
	good := r.begin(t, order.Lazada, "")
	payload, sig, _ := strings.Cut(good, ".")
	altered := payload + "." + strings.Map(func(c rune) rune {
		if c == 'A' {
			return 'B'
		}
		return 'A'
	}, sig[:1]) + sig[1:]
	for name, tc := range map[string]struct {
		p     order.Platform
		state string
		want  string
	}{
		"forged":                   {order.Lazada, "bG9s.bG9s", "invalid_state"},
		"none":                     {order.Lazada, "", "invalid_state"},
		"altered":                  {order.Lazada, altered, "invalid_state"},
		"other platform":           {order.TikTok, good, "invalid_state"},
		"shopee's state at lazada": {order.Lazada, r.begin(t, order.Shopee, ""), "invalid_state"},
	} {
		id := r.shops[tc.p][1]
		code := r.sale.AuthCode(tc.p, id)
		status, body := r.callback(t, tc.p, code, tc.state, id)
		if status != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want 400 %s", name, status, body, tc.want)
		}
		if strings.Contains(string(body), code) || (tc.state != "" && strings.Contains(string(body), tc.state)) {
			t.Errorf("%s: the error repeats the code or the state", name)
		}
		if _, _, ok := r.sale.Exchange(tc.p, code); !ok {
			t.Errorf("%s: the code was spent though the state was refused", name)
		}
	}
	if _, err := r.srv.Shops().Get(context.Background(), order.Lazada, r.shops[order.Lazada][1]); err == nil {
		t.Fatal("a shop was stored through a refused state")
	}
	// The state names a shop; the seller authorised another: refused.
	named := r.begin(t, order.Lazada, r.shops[order.Lazada][1])
	if status, body := r.callback(t, order.Lazada, r.sale.AuthCode(order.Lazada, r.shops[order.Lazada][2]), named, ""); status != http.StatusBadGateway {
		t.Fatalf("lazada, another shop than named: %d %s", status, body)
	}
	named = r.begin(t, order.Shopee, r.shops[order.Shopee][1])
	if status, body := r.callback(t, order.Shopee, r.sale.AuthCode(order.Shopee, r.shops[order.Shopee][2]), named, r.shops[order.Shopee][2]); status != http.StatusBadRequest {
		t.Fatalf("shopee, another shop than named: %d %s", status, body)
	}
	if conns, _ := r.srv.Shops().List(context.Background(), ""); len(conns) != 0 {
		t.Fatalf("refused callbacks stored %d shops", len(conns))
	}
	// TikTok's redirect names no shop: without one named in the state,
	// the token's only shop is connected.
	tid := r.shops[order.TikTok][1]
	if status, body := r.callback(t, order.TikTok, r.sale.AuthCode(order.TikTok, tid), r.begin(t, order.TikTok, ""), ""); status != http.StatusOK || !strings.Contains(string(body), tid) {
		t.Fatalf("tiktok connect without a shop id: %d %s", status, body)
	}
	if status, _ := r.do(t, http.MethodPost, "/api/v1/shops/connect/amazon", true); status != http.StatusNotFound {
		t.Fatalf("unknown platform: %d", status)
	}
	if status, _ := r.do(t, http.MethodPost, "/api/v1/shops/connect/shopee", false); status != http.StatusUnauthorized {
		t.Fatalf("connect without a token: %d", status)
	}
}

// TestTokenRefresh: the refresher renews a token about to expire (the old
// one stops working at the marketplace, the new one works), and marks
// Expired a shop whose refresh the marketplace refuses.
func TestTokenRefresh(t *testing.T) {
	t.Parallel()
	r := newShopsRig(t)
	ctx := context.Background()
	soon := time.Now().Add(time.Minute)
	olds := map[order.Platform]marketplace.Token{}
	for p, ids := range r.shops {
		// ids[0]: a good token about to expire.
		tok := r.sale.IssueToken(p, ids[0])
		olds[p] = tok
		tok.AccessExpiresAt = soon
		sh, _ := r.sale.Shop(p, ids[0])
		if err := r.srv.Shops().Put(ctx, shop.Connection{Shop: marketplace.Shop{Platform: p, ShopID: ids[0], Cipher: sh.Cipher, Region: sh.Region, Token: tok},
			State: shop.Connected, ConnectedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		// ids[2]: its refresh token already spent elsewhere.
		bad := r.sale.IssueToken(p, ids[2])
		if _, _, ok := r.sale.Refresh(p, bad.RefreshToken); !ok {
			t.Fatal("sandbox refresh")
		}
		bad.AccessExpiresAt = soon
		if err := r.srv.Shops().Put(ctx, shop.Connection{Shop: marketplace.Shop{Platform: p, ShopID: ids[2], Cipher: sh.Cipher, Region: sh.Region, Token: bad},
			State: shop.Connected, ConnectedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for p, ids := range r.shops {
		c := waitShop(t, r.srv.Shops(), p, ids[0], func(c shop.Connection) bool { return c.Token.AccessToken != olds[p].AccessToken })
		if c.State != shop.Connected || !c.Token.AccessExpiresAt.After(time.Now().Add(time.Hour)) || c.LastError != "" {
			t.Fatalf("%s refreshed: state %s, expires %s, last error %q", p, c.State, c.Token.AccessExpiresAt, c.LastError)
		}
		if _, ok := r.sale.Authorize(p, olds[p].AccessToken); ok {
			t.Fatalf("%s: the old access token still works", p)
		}
		if _, ok := r.sale.Authorize(p, c.Token.AccessToken); !ok {
			t.Fatalf("%s: the new access token does not work", p)
		}
		e := waitShop(t, r.srv.Shops(), p, ids[2], func(c shop.Connection) bool { return c.State != shop.Connected })
		if e.State != shop.Expired || e.LastError == "" {
			t.Fatalf("%s refused: state %s, last error %q", p, e.State, e.LastError)
		}
	}
	_, body := r.do(t, http.MethodGet, "/metrics", false)
	for _, want := range []string{`orderlane_token_refreshes_total{outcome="refreshed",platform="tiktok"}`,
		`orderlane_token_refreshes_total{outcome="expired",platform="shopee"}`, `orderlane_shops{platform="lazada",state="expired"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestAuthorisationPushes: a Shopee deauthorisation push (code 2) and a
// TikTok one (type 6) mark their shops Revoked; an expiry notice (TikTok
// type 7) leaves the shop Connected with a warning.
func TestAuthorisationPushes(t *testing.T) {
	t.Parallel()
	r := newShopsRig(t)
	ctx := context.Background()
	for p, ids := range r.shops {
		for _, id := range ids[:2] {
			tok := r.sale.IssueToken(p, id)
			if err := r.srv.Shops().Put(ctx, shop.Connection{Shop: marketplace.Shop{Platform: p, ShopID: id, Token: tok},
				State: shop.Connected, ConnectedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := time.Now().Unix()
	sp := fmt.Sprintf(`{"shop_id":%s,"code":2,"success":1,"extra":"shop authorization canceled","data":{},"timestamp":%d}`, r.shops[order.Shopee][0], now)
	r.push(t, "/webhooks/shopee", "Authorization", shopee.SignPush(shopCallback, []byte(shopPushKey), []byte(sp)), sp)
	tt := fmt.Sprintf(`{"type":6,"tts_notification_id":"n-6","shop_id":"%s","timestamp":%d,"data":{"reason":"seller deauthorized"}}`, r.shops[order.TikTok][0], now)
	r.push(t, "/webhooks/tiktok", "Authorization", tiktok.SignPush(ttAppKey, []byte(ttSecret), []byte(tt)), tt)
	tt7 := fmt.Sprintf(`{"type":7,"tts_notification_id":"n-7","shop_id":"%s","timestamp":%d,"data":{"expire_time":%d}}`, r.shops[order.TikTok][1], now, now+86400)
	r.push(t, "/webhooks/tiktok", "Authorization", tiktok.SignPush(ttAppKey, []byte(ttSecret), []byte(tt7)), tt7)

	for _, k := range []struct {
		p  order.Platform
		id string
	}{{order.Shopee, r.shops[order.Shopee][0]}, {order.TikTok, r.shops[order.TikTok][0]}} {
		c := waitShop(t, r.srv.Shops(), k.p, k.id, func(c shop.Connection) bool { return c.State != shop.Connected })
		if c.State != shop.Revoked || c.LastError == "" {
			t.Fatalf("%s/%s after deauthorisation: %s %q", k.p, k.id, c.State, c.LastError)
		}
	}
	c := waitShop(t, r.srv.Shops(), order.TikTok, r.shops[order.TikTok][1], func(c shop.Connection) bool { return c.LastError != "" })
	if c.State != shop.Connected || !strings.Contains(c.LastError, "expires soon") {
		t.Fatalf("after the expiry notice: %s %q", c.State, c.LastError)
	}
	for _, p := range []order.Platform{order.Shopee, order.TikTok} {
		if c, _ := r.srv.Shops().Get(ctx, p, r.shops[p][1]); p == order.Shopee && c.State != shop.Connected {
			t.Fatalf("%s: another shop changed: %s", p, c.State)
		}
	}
}

func (r *shopsRig) push(t *testing.T, path, header, sig, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.base+path, strings.NewReader(body))
	req.Header.Set(header, sig)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push %s: %d %s", path, resp.StatusCode, b)
	}
}

// waitShop polls the store until ok holds for the shop (10 s deadline).
func waitShop(t *testing.T, st shop.Store, p order.Platform, id string, ok func(shop.Connection) bool) shop.Connection {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := st.Get(context.Background(), p, id)
		if err == nil && ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s: condition never held (last: %+v, err %v)", p, id, c.State, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var testLogOut io.Writer = io.Discard

// TestEnrichAndReconcileWired: with a connected shop, a status push's
// order gets its detail from the marketplace's API (the "enrich"
// subscription), and an order no push told about is found by
// reconciliation.
func TestEnrichAndReconcileWired(t *testing.T) {
	t.Parallel()
	r := newShopsRig(t, func(c *config.Config) { c.MarketplaceAPI.Reconcile = "1s" })
	ctx := context.Background()
	id := r.shops[order.Shopee][0]
	tok := r.sale.IssueToken(order.Shopee, id)
	if err := r.srv.Shops().Put(ctx, shop.Connection{Shop: marketplace.Shop{Platform: order.Shopee, ShopID: id, Region: "SG", Token: tok},
		State: shop.Connected, ConnectedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	unit := sandbox.Unit{LineID: "1", ItemID: "100", SKU: "SKU-1", Name: "Mug", UnitPrice: "12.50", PaidPrice: "12.50"}
	for _, sn := range []string{"2511260001ABCD", "2511260002ABCD"} {
		r.sale.Put(sandbox.Order{Platform: order.Shopee, ShopID: id, OrderID: sn, Status: "READY_TO_SHIP", CreateTime: now, UpdateTime: now,
			Currency: "SGD", ShippingFee: "2.00", Units: []sandbox.Unit{unit, unit}, VisibleAt: now})
	}
	body := fmt.Sprintf(`{"msg_id":"m-1","shop_id":%s,"code":3,"timestamp":%d,"data":{"ordersn":"2511260001ABCD","status":"READY_TO_SHIP","update_time":%d}}`,
		id, now.Unix(), now.Unix())
	r.push(t, "/webhooks/shopee", "Authorization", shopee.SignPush(shopCallback, []byte(shopPushKey), []byte(body)), body)
	for _, sn := range []string{"2511260001ABCD", "2511260002ABCD"} { // pushed, and found by reconciliation
		deadline := time.Now().Add(15 * time.Second)
		for {
			status, b := r.do(t, http.MethodGet, "/api/v1/orders/shopee/"+id+"/"+sn, true)
			var o struct {
				Detail *struct {
					Items []struct {
						SKU      string `json:"sku"`
						Quantity int    `json:"quantity"`
					} `json:"items"`
				} `json:"detail"`
			}
			if status == http.StatusOK && json.Unmarshal(b, &o) == nil && o.Detail != nil {
				if len(o.Detail.Items) != 1 || o.Detail.Items[0].SKU != "SKU-1" || o.Detail.Items[0].Quantity != 2 {
					t.Fatalf("%s detail: %s", sn, b)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never got its detail: %d %s", sn, status, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
