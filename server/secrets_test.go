package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/server"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecretsNeverLoggedOrAnswered: with debug logging, a start, good and
// bad pushes, bad API calls and a shutdown leave no secret in the log or in
// any response body.
func TestSecretsNeverLoggedOrAnswered(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"api token":          "api-token-SECRET-1f9a",
		"shopee partner key": "shopee-partner-SECRET-77b2",
		"shopee push key":    "shopee-push-SECRET-0c4e",
		"lazada app secret":  "lazada-app-SECRET-9d31",
		"tiktok app secret":  "tiktok-app-SECRET-52aa",
		"redis url password": "redis-pass-SECRET-e810",
	}
	cfg := config.Config{
		HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "debug",
		APIToken: secrets["api token"],
		Shopee: config.Shopee{PartnerID: "2001887", PartnerKey: secrets["shopee partner key"],
			PushKey: secrets["shopee push key"], CallbackURL: "https://seller.example/webhooks/shopee"},
		Lazada: config.Lazada{AppKey: "123456", AppSecret: secrets["lazada app secret"]},
		TikTok: config.TikTok{AppKey: "29a39d", AppSecret: secrets["tiktok app secret"]},
	}.WithDefaults()
	// A Redis that is not there: the shared tier degrades and logs about it.
	cfg.Redis.URL = "redis://default:" + secrets["redis url password"] + "@127.0.0.1:1/0"
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.Start(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()
	var bodies strings.Builder
	do := func(method, path, auth, body string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies.Write(b)
	}
	push := `{"msg_id":"sec-1","shop_id":1,"code":3,"timestamp":1765689440,"data":{"ordersn":"SEC1","status":"UNPAID","update_time":1765689439}}`
	do("POST", "/webhooks/shopee", shopee.SignPush(cfg.Shopee.CallbackURL, []byte(cfg.Shopee.PushKey), []byte(push)), push)
	do("POST", "/webhooks/shopee", "deadbeef", push)
	do("POST", "/webhooks/lazada", "deadbeef", `{"seller_id":"1"}`)
	do("POST", "/webhooks/tiktok", "", "not json")
	do("GET", "/api/v1/orders", "Bearer wrong", "")
	do("GET", "/api/v1/orders", "Bearer "+cfg.APIToken, "")
	do("GET", "/metrics", "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if logs.String() == "" {
		t.Fatal("no log output captured: the check would prove nothing")
	}
	for name, secret := range secrets {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the %s appears in the log", name)
		}
		if strings.Contains(bodies.String(), secret) {
			t.Errorf("the %s appears in a response body", name)
		}
	}
}
