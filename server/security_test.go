package server_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/server"
)

const (
	secCallbackURL = "https://seller.example/webhooks/shopee"
	secPushKey     = "k1"
	secToken       = "test-token"
)

// secStart runs a whole server on loopback with the marketplaces
// configured, edited by edit.
func secStart(t *testing.T, edit func(*config.Config)) *server.Server {
	t.Helper()
	cfg := config.Config{
		HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), APIToken: secToken,
		Shopee: config.Shopee{PushKey: secPushKey, CallbackURL: secCallbackURL},
		Lazada: config.Lazada{AppKey: "123456", AppSecret: "s2"},
		TikTok: config.TikTok{AppKey: "29a39d", AppSecret: "s3"},
	}
	if edit != nil {
		edit(&cfg)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	return srv
}

// secPoll calls cond until it is true or 10 s have passed.
func secPoll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func secShopeeBody(shop int, order string) string {
	return fmt.Sprintf(`{"msg_id":"m-%s","shop_id":%d,"code":3,"timestamp":1765689440,"data":{"ordersn":%q,"status":"UNPAID","update_time":1765689439}}`, order, shop, order)
}

// secDo sends a request and returns the status and body.
func secDo(t *testing.T, client *http.Client, req *http.Request) (int, string) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBurstAboveLimitsAllAcknowledgedApplied: a burst of one shop's
// pushes above its bucket gets 429 with Retry-After for the excess, while
// every push that got 200 is applied and none that got 429 is.
func TestBurstAboveLimitsAllAcknowledgedApplied(t *testing.T) {
	t.Parallel()
	srv := secStart(t, func(c *config.Config) {
		c.Throttle.ShopRate, c.Throttle.ShopBurst = 0.001, 10
	})
	base := "http://" + srv.Addr()
	const n = 40
	codes := make([]int, n)
	retry := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := secShopeeBody(7, fmt.Sprintf("BURST%02d", i))
			req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/shopee", strings.NewReader(body))
			req.Header.Set("Authorization", shopee.SignPush(secCallbackURL, []byte(secPushKey), []byte(body)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
		})
	}
	wg.Wait()
	var ok, throttled int
	for i, c := range codes {
		switch {
		case c == http.StatusOK:
			ok++
		case c == http.StatusTooManyRequests && retry[i] != "":
			throttled++
		default:
			t.Fatalf("push %d: %d (Retry-After %q), want 200 or 429 with Retry-After", i, c, retry[i])
		}
	}
	if ok != 10 || throttled != n-10 {
		t.Fatalf("%d acknowledged, %d throttled; want 10 and %d", ok, throttled, n-10)
	}
	get := func(order string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/orders/shopee/7/"+order, nil)
		req.Header.Set("Authorization", "Bearer "+secToken)
		code, _ := secDo(t, nil, req)
		return code
	}
	for i, c := range codes {
		order := fmt.Sprintf("BURST%02d", i)
		if c == http.StatusOK {
			secPoll(t, "acknowledged "+order+" to be applied", func() bool { return get(order) == http.StatusOK })
		}
	}
	for i, c := range codes {
		if order := fmt.Sprintf("BURST%02d", i); c != http.StatusOK && get(order) != http.StatusNotFound {
			t.Fatalf("throttled %s was applied", order)
		}
	}
}

// TestForwardedHeadersDoNotChangeShopeeVerification: behind a trusted
// proxy, forwarded scheme and host do not enter Shopee's signature check:
// a push signed over the configured callback URL is accepted whatever the
// headers say, and one signed over a URL rebuilt from them is refused.
func TestForwardedHeadersDoNotChangeShopeeVerification(t *testing.T) {
	t.Parallel()
	srv := secStart(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
	body := secShopeeBody(9, "FWD1")
	forwarded := func(sig string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, "http://"+srv.Addr()+"/webhooks/shopee", strings.NewReader(body))
		req.Host = "10.0.0.12:8080"
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("X-Forwarded-Proto", "http")
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Port", "8443")
		req.Header.Set("Forwarded", `for=203.0.113.9;proto=http;host=evil.example`)
		req.Header.Set("X-Original-URL", "/other")
		req.Header.Set("Authorization", sig)
		return req
	}
	for _, rebuilt := range []string{
		"http://evil.example/webhooks/shopee",
		"http://evil.example:8443/webhooks/shopee",
		"http://10.0.0.12:8080/webhooks/shopee",
	} {
		if code, out := secDo(t, nil, forwarded(shopee.SignPush(rebuilt, []byte(secPushKey), []byte(body)))); code != http.StatusUnauthorized {
			t.Fatalf("signed over %s: %d %s, want 401", rebuilt, code, out)
		}
	}
	if code, out := secDo(t, nil, forwarded(shopee.SignPush(secCallbackURL, []byte(secPushKey), []byte(body)))); code != http.StatusOK {
		t.Fatalf("signed over the configured URL, through the proxy: %d %s, want 200", code, out)
	}
}

// TestSlowClientsCutOff: a client dribbling its headers is disconnected at
// the read-header timeout, one dribbling its body at the read timeout, and
// headers above the limit get 431.
func TestSlowClientsCutOff(t *testing.T) {
	t.Parallel()
	const headerTimeout, readTimeout = 300 * time.Millisecond, 800 * time.Millisecond
	srv := secStart(t, func(c *config.Config) {
		c.HTTP.ReadHeaderTimeout, c.HTTP.ReadTimeout, c.HTTP.MaxHeaderBytes = headerTimeout, readTimeout, 8<<10
	})
	// dribble opens a connection, sends head, then one more line of
	// dribble every 50 ms, and returns how long until the server closed
	// the connection.
	dribble := func(head, line string) time.Duration {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.Copy(io.Discard, c) // returns when the server closes
		}()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-closed:
				return time.Since(start)
			case <-tick.C:
				if time.Since(start) > 8*time.Second {
					t.Fatal("slow client never cut off")
				}
				_, _ = io.WriteString(c, line) // fails once the server closed
			}
		}
	}
	if d := dribble("POST /webhooks/shopee HTTP/1.1\r\nHost: x\r\n", "X-Slow: 1\r\n"); d < headerTimeout-50*time.Millisecond || d > headerTimeout+2*time.Second {
		t.Errorf("header dribbler cut after %s, want about the read-header timeout %s", d, headerTimeout)
	}
	if d := dribble("POST /webhooks/shopee HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{", " "); d < readTimeout-50*time.Millisecond || d > readTimeout+2*time.Second {
		t.Errorf("body dribbler cut after %s, want about the read timeout %s", d, readTimeout)
	}

	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 16<<10))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB header: %d, want 431", resp.StatusCode)
	}
}

// TestAPIAllowListAndBodyLimit: with an API allow-list, /api/ and
// /metrics answer only the listed addresses (seen through the trusted
// proxy), the health checks everyone; /api/ bodies are capped.
func TestAPIAllowListAndBodyLimit(t *testing.T) {
	t.Parallel()
	srv := secStart(t, func(c *config.Config) {
		c.TrustedProxies = []string{"127.0.0.0/8"}
		c.Allow.API = []string{"203.0.113.0/24"}
	})
	base := "http://" + srv.Addr()
	call := func(method, path, xff string, body io.Reader) int {
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Authorization", "Bearer "+secToken)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		code, _ := secDo(t, nil, req)
		return code
	}
	for _, tc := range []struct {
		path, xff string
		want      int
	}{
		{"/api/v1/orders", "", 403},
		{"/api/v1/orders", "198.51.100.1", 403},
		{"/api/v1/orders", "203.0.113.5", 200},
		{"/metrics", "", 403},
		{"/metrics", "203.0.113.5", 200},
		{"/healthz", "", 200},
		{"/readyz", "198.51.100.1", 200},
	} {
		if got := call(http.MethodGet, tc.path, tc.xff, nil); got != tc.want {
			t.Errorf("GET %s from %q: %d, want %d", tc.path, tc.xff, got, tc.want)
		}
	}
	if got := call(http.MethodPost, "/api/v1/deadletters/replay", "203.0.113.5", strings.NewReader(strings.Repeat("x", 65<<10))); got != http.StatusRequestEntityTooLarge {
		t.Errorf("65 KiB API body: %d, want 413", got)
	}
}

// TestHTTPSWithFilesAndRedirect: with certificate files the server speaks
// HTTPS with HTTP/2 on http_addr, and the redirect listener sends plain
// HTTP there.
func TestHTTPSWithFilesAndRedirect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, roots := selfSigned(t, dir)
	srv := secStart(t, func(c *config.Config) {
		c.TLS.CertFile, c.TLS.KeyFile, c.TLS.RedirectAddr = certFile, keyFile, "127.0.0.1:0"
	})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.Get("https://" + srv.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("HTTPS: %d %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	if resp, err := http.Get("http://" + srv.Addr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the HTTPS listener: %d, want 400", resp.StatusCode)
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get("http://" + srv.RedirectAddr() + "/api/v1/orders?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(srv.Addr())
	if want := "https://127.0.0.1:" + port + "/api/v1/orders?limit=1"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// TestBadCertificateFilesFailStart: files that do not load stop the start
// with an error naming them.
func TestBadCertificateFilesFailStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config.Config{HTTPAddr: "127.0.0.1:0", DataDir: dir, APIToken: secToken,
		TLS: config.TLS{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: filepath.Join(dir, "nope.key")}}.WithDefaults()
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("started with missing certificate files")
	}
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.pem") {
		t.Fatalf("err = %v", err)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(c)
	return certFile, keyFile, roots
}

// TestConnectionCap: with http.max_conns connections open, the next one
// waits (its request is not read) until one closes; then it is served.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	srv := secStart(t, func(c *config.Config) { c.HTTP.MaxConns = 2 })
	open := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		return c, bufio.NewReader(c)
	}
	answered := func(c net.Conn, r *bufio.Reader, within time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(within))
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	c1, r1 := open()
	c2, r2 := open()
	if !answered(c1, r1, 5*time.Second) || !answered(c2, r2, 5*time.Second) {
		t.Fatal("the first two connections were not served")
	}
	c3, r3 := open() // c1 and c2 stay open (keep-alive)
	if answered(c3, r3, 300*time.Millisecond) {
		t.Fatal("a third connection was served with the cap at 2")
	}
	c1.Close()
	if !answered(c3, r3, 5*time.Second) {
		t.Fatal("the waiting connection was not served after one closed")
	}
}
