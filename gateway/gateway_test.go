package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/gateway"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/server"
)

const (
	callbackURL = "https://example.com/webhook/shopee"
	pushKey     = "test_push_partner_key"
	shopeeBody  = `{"msg_id":"64ca21a145e29bda3a6e31203c800e00","data":{"completed_scenario":null,"items":[],"ordersn":"251214B9XAB0ST","status":"READY_TO_SHIP","update_time":1765689439},"shop_id":336094210,"code":3,"timestamp":1765689440}`
	lazadaBody  = `{"seller_id":"1234567","message_type":0,"data":{"order_status":"unpaid","trade_order_id":"260422900198363","trade_order_line_id":"260422900298363","status_update_time":1603698638},"timestamp":1603766859530,"site":"lazada_vn"}`
	tiktokBody  = `{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","order_status":"UNPAID","is_on_hold_order":false,"update_time":1644412885}}`
)

var testConfig = config.Config{
	Shopee: config.Shopee{PushKey: pushKey, PartnerKey: "test_partner_key", CallbackURL: callbackURL},
	Lazada: config.Lazada{AppKey: "123456", AppSecret: "3412gyo124goi3124"},
	TikTok: config.TikTok{AppKey: "29a39d", AppSecret: "e59af819cc"},
}

type bundle struct {
	srv  *httptest.Server
	bus  *jetstream.Bus
	nats *jetstream.Embedded
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// setup runs the gateway over a real embedded JetStream topic.
func setup(t *testing.T, cfg config.Config, gcfg gateway.Config) *bundle {
	t.Helper()
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	b, err := jetstream.New(context.Background(), e.Conn, jetstream.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gcfg.Logger = quiet()
	srv := httptest.NewServer(gateway.New(gcfg, b, server.Receivers(cfg, quiet())...))
	t.Cleanup(srv.Close)
	return &bundle{srv: srv, bus: b, nats: e}
}

func (b *bundle) post(t *testing.T, path, sig, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		req.Header.Set("Authorization", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// stored returns the messages on the topic.
func (b *bundle) stored(t *testing.T) []*natsMsg {
	t.Helper()
	ctx := context.Background()
	s, err := b.bus.JetStream().Stream(ctx, b.bus.Config().Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*natsMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &natsMsg{Subject: m.Subject, Group: m.Header.Get(jetstream.HeaderGroup), ID: m.Header.Get("Nats-Msg-Id"), Data: m.Data})
	}
	return out
}

type natsMsg struct {
	Subject, Group, ID string
	Data               []byte
}

func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q, want application/json", ct)
	}
	var e httperror.Body
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error body %s (%v), want code %q with a message", body, err, code)
	}
}

func shopeeSig(body string) string {
	return shopee.SignPush(callbackURL, []byte(pushKey), []byte(body))
}

func TestAcceptsEachMarketplaceAfterAppend(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig, gateway.Config{})
	for _, tc := range []struct{ path, sig, body, subject, group string }{
		{"/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody, "orderlane.events.shopee.order", "shopee:336094210:251214B9XAB0ST"},
		{"/webhooks/lazada", lazada.SignPush("123456", []byte("3412gyo124goi3124"), []byte(lazadaBody)), lazadaBody, "orderlane.events.lazada.order", "lazada:1234567:260422900198363"},
		{"/webhooks/tiktok", "e21e909414e500178230da539adfc1faddd443124f93a8f67a060568a49620be", tiktokBody, "orderlane.events.tiktok.order", "tiktok:7494049642642441621:576486316948490001"},
	} {
		resp, body := b.post(t, tc.path, tc.sig, tc.body)
		if resp.StatusCode != http.StatusOK || len(body) != 0 {
			t.Fatalf("%s: status %d body %q, want 200 and an empty body", tc.path, resp.StatusCode, body)
		}
		msgs := b.stored(t)
		last := msgs[len(msgs)-1]
		if last.Subject != tc.subject || last.Group != tc.group || last.ID == "" {
			t.Fatalf("%s: stored %+v", tc.path, last)
		}
		e, err := order.DecodeEvent(last.Data, 1)
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Payload) != tc.body {
			t.Fatalf("%s: stored payload differs from the signed body", tc.path)
		}
	}
	if n := len(b.stored(t)); n != 3 {
		t.Fatalf("%d messages stored, want 3", n)
	}
}

func TestDuplicateStoredOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig, gateway.Config{})
	for range 3 {
		if resp, body := b.post(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
	}
	if n := len(b.stored(t)); n != 1 {
		t.Fatalf("%d messages stored for one push sent three times, want 1", n)
	}
}

func TestNoticeRecordedNotRouted(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig, gateway.Config{})
	verify := `{"code":0,"data":{"verify_info":"This is a Verification message.Please respond in the certain format."}}`
	if resp, body := b.post(t, "/webhooks/shopee", shopeeSig(verify), verify); resp.StatusCode != http.StatusOK {
		t.Fatalf("verification push: %d %s", resp.StatusCode, body)
	}
	msgs := b.stored(t)
	if len(msgs) != 1 || msgs[0].Subject != "orderlane.events.shopee.notice" {
		t.Fatalf("stored %+v, want one notice", msgs)
	}
}

// TestRejectsBadInputAndRecordsNothing: every refusal leaves the topic empty.
func TestRejectsBadInputAndRecordsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig, gateway.Config{MaxBodyBytes: 1024})
	notJSON := `{"code":3,`
	noOrder := `{"msg_id":"x","shop_id":1,"code":3,"timestamp":1,"data":{"status":"UNPAID"}}`
	big := `{"code":3,"pad":"` + strings.Repeat("x", 2000) + `"}`
	for _, tc := range []struct {
		name, method, path, sig, body string
		status                        int
		code                          string
	}{
		{"missing signature", "POST", "/webhooks/shopee", "", shopeeBody, 401, httperror.CodeUnauthorized},
		{"wrong signature", "POST", "/webhooks/shopee", shopeeSig(shopeeBody + " "), shopeeBody, 401, httperror.CodeUnauthorized},
		{"tiktok signature on lazada", "POST", "/webhooks/lazada", "e21e909414e500178230da539adfc1faddd443124f93a8f67a060568a49620be", tiktokBody, 401, httperror.CodeUnauthorized},
		{"signed but not JSON", "POST", "/webhooks/shopee", shopeeSig(notJSON), notJSON, 400, httperror.CodeBadRequest},
		{"signed order push without order id", "POST", "/webhooks/shopee", shopeeSig(noOrder), noOrder, 400, httperror.CodeBadRequest},
		{"too large", "POST", "/webhooks/shopee", shopeeSig(big), big, 413, httperror.CodeTooLarge},
		{"unknown marketplace", "POST", "/webhooks/amazon", "x", shopeeBody, 404, httperror.CodeNotFound},
		{"nested path", "POST", "/webhooks/shopee/extra", shopeeSig(shopeeBody), shopeeBody, 404, httperror.CodeNotFound},
		{"GET", "GET", "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody, 405, httperror.CodeMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, b.srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.sig != "" {
				req.Header.Set("Authorization", tc.sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantError(t, resp, body, tc.status, tc.code)
		})
	}
	if n := len(b.stored(t)); n != 0 {
		t.Fatalf("%d messages stored after refused pushes, want 0", n)
	}
}

// TestTooLargeWithoutContentLength: a chunked body is cut at the limit too.
func TestTooLargeWithoutContentLength(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig, gateway.Config{MaxBodyBytes: 1024})
	big := []byte(`{"code":3,"pad":"` + strings.Repeat("x", 4000) + `"}`)
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/webhooks/shopee", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", shopeeSig(string(big)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp, body, http.StatusRequestEntityTooLarge, httperror.CodeTooLarge)
}

func TestUnconfiguredMarketplaceNamesTheSetting(t *testing.T) {
	t.Parallel()
	cfg := testConfig
	cfg.Lazada = config.Lazada{}
	b := setup(t, cfg, gateway.Config{})
	resp, body := b.post(t, "/webhooks/lazada", "x", lazadaBody)
	wantError(t, resp, body, http.StatusServiceUnavailable, httperror.CodeNotConfigured)
	if !strings.Contains(string(body), "ORDERLANE_LAZADA_APP_KEY") {
		t.Fatalf("body %s does not name the missing setting", body)
	}
	if resp, _ := b.post(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody); resp.StatusCode != 200 {
		t.Fatalf("a configured marketplace must keep working: %d", resp.StatusCode)
	}
}

// TestAppendFailureIs503: with the stream gone, no push is acknowledged, and
// the answer comes within the publish timeout, not the marketplace's.
func TestAppendFailureIs503(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig, gateway.Config{PublishTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	if err := b.bus.JetStream().DeleteStream(ctx, b.bus.Config().Stream); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, body := b.post(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
	wantError(t, resp, body, http.StatusServiceUnavailable, httperror.CodeUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("503 after %s", d)
	}
	// Server gone entirely.
	b.nats.Server.Shutdown()
	resp, body = b.post(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
	wantError(t, resp, body, http.StatusServiceUnavailable, httperror.CodeUnavailable)
}

type failingPublisher struct{}

func (failingPublisher) Publish(context.Context, bus.Message) (bus.PublishResult, error) {
	return bus.PublishResult{}, errors.New("disk full")
}

func TestPublisherErrorIs503(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(gateway.New(gateway.Config{Logger: quiet()}, failingPublisher{}, server.Receivers(testConfig, quiet())...))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/shopee", strings.NewReader(shopeeBody))
	req.Header.Set("Authorization", shopeeSig(shopeeBody))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp, body, http.StatusServiceUnavailable, httperror.CodeUnavailable)
}
