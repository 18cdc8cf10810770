package tlsconf_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/tlsconf"
)

// serve runs an HTTPS server with t's configuration on loopback, as
// server.Start does, and returns its address.
func serve(t *testing.T, tc *tlsconf.TLS, ln net.Listener) string {
	t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Proto)
		}),
		TLSConfig:         tc.Config,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelWarn),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// handshake connects to addr and returns the served leaf's serial number
// and the negotiated protocol.
func handshake(t *testing.T, addr string, cfg *tls.Config) (serial int64, proto string, err error) {
	t.Helper()
	d := &tls.Dialer{Config: cfg}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	return st.PeerCertificates[0].SerialNumber.Int64(), st.NegotiatedProtocol, nil
}

// logSink collects log output, for waiting on a log line.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logSink) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

// poll calls cond until it is true or the deadline passes.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFileRotationPickedUp: a new certificate and key written over the
// files are served without a restart; a half-done rotation (new
// certificate, old key) is skipped and the previous pair kept in service.
func TestFileRotationPickedUp(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c1, k1 := ca.leaf(t, 1)
	writeFile(t, certFile, c1)
	writeFile(t, keyFile, k1)
	logs := &logSink{}
	tc, err := tlsconf.New(tlsconf.Config{CertFile: certFile, KeyFile: keyFile, ReloadCheck: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, tc, nil)
	client := &tls.Config{RootCAs: ca.pool, ServerName: "localhost"}
	serialNow := func() int64 {
		s, _, err := handshake(t, addr, client)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := serialNow(); s != 1 {
		t.Fatalf("serial %d, want 1", s)
	}
	c2, k2 := ca.leaf(t, 2)
	writeFile(t, certFile, c2) // the key is not replaced yet
	poll(t, "the mismatched pair to be tried", func() bool {
		if s := serialNow(); s != 1 {
			t.Fatalf("serial %d during a half-done rotation, want the previous 1", s)
		}
		return logs.has("do not load")
	})
	writeFile(t, keyFile, k2)
	poll(t, "the rotated certificate", func() bool { return serialNow() == 2 })
}

// TestModernTLSAndHTTP2: TLS 1.0/1.1 and CBC suites are refused; a
// default client gets TLS 1.3 and HTTP/2.
func TestModernTLSAndHTTP2(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	dir := t.TempDir()
	c, k := ca.leaf(t, 1)
	writeFile(t, filepath.Join(dir, "c"), c)
	writeFile(t, filepath.Join(dir, "k"), k)
	tc, err := tlsconf.New(tlsconf.Config{CertFile: filepath.Join(dir, "c"), KeyFile: filepath.Join(dir, "k")})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, tc, nil)
	for name, cfg := range map[string]*tls.Config{
		"TLS 1.1": {RootCAs: ca.pool, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
		"CBC":     {RootCAs: ca.pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}},
	} {
		if _, _, err := handshake(t, addr, cfg); err == nil {
			t.Errorf("%s: handshake succeeded, want refused", name)
		}
	}
	if _, _, err := handshake(t, addr, &tls.Config{RootCAs: ca.pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12}); err != nil {
		t.Errorf("TLS 1.2 with the default suites: %v", err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(body) != "HTTP/2.0" || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("got %s (server saw %s), TLS %x; want HTTP/2 over TLS 1.3", resp.Proto, body, resp.TLS.Version)
	}
}

func TestRedirect(t *testing.T) {
	t.Parallel()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ httpsAddr, host, want string }{
		{":8443", "shop.example:8080", "https://shop.example:8443/webhooks/shopee?a=1"},
		{":443", "shop.example", "https://shop.example/webhooks/shopee?a=1"},
		{"[::]:8443", "[2001:db8::1]:80", "https://[2001:db8::1]:8443/webhooks/shopee?a=1"},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: tlsconf.Redirect(tc.httpsAddr), ReadHeaderTimeout: time.Second}
		go func() { _ = srv.Serve(ln) }()
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/webhooks/shopee?a=1", strings.NewReader("{}"))
		req.Host = tc.host
		resp, err := client.Do(req)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != tc.want {
			t.Errorf("Host %s: %d %q, want 308 %q", tc.host, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]tlsconf.Config{
		"key without cert": {KeyFile: "k"},
		"both":             {CertFile: "c", KeyFile: "k", ACME: tlsconf.ACME{Domains: []string{"a.example"}, CacheDir: t.TempDir()}},
		"missing files":    {CertFile: "/nonexistent/c", KeyFile: "/nonexistent/k"},
		"acme, no cache":   {ACME: tlsconf.ACME{Domains: []string{"a.example"}}},
	} {
		if _, err := tlsconf.New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
