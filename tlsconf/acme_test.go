package tlsconf_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/tlsconf"
)

// The ACME tests run Let's Encrypt's test CA, Pebble, as a process: built
// once per test run from the Go module proxy (or the binary named by
// ORDERLANE_PEBBLE), with validation on (PEBBLE_VA_ALWAYS_VALID is not
// set): Pebble really connects to orderlane's listeners for the
// challenges, resolving the test domain through a DNS responder the test
// runs on loopback.
const pebbleModule = "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1"

// acmeDomain is the name certificates are obtained for; the test's DNS
// responder resolves every name to 127.0.0.1.
const acmeDomain = "orderlane.test"

var pebbleBuild struct {
	once sync.Once
	path string
	err  error
}

func pebbleBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the ACME tests build and run Pebble")
	}
	if p := os.Getenv("ORDERLANE_PEBBLE"); p != "" {
		return p
	}
	pebbleBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "orderlane-pebble-")
		if err != nil {
			pebbleBuild.err = err
			return
		}
		cmd := exec.Command("go", "install", pebbleModule)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			pebbleBuild.err = fmt.Errorf("go install %s: %w\n%s", pebbleModule, err, out)
			return
		}
		pebbleBuild.path = filepath.Join(dir, "pebble")
	})
	if pebbleBuild.err != nil {
		t.Fatalf("building Pebble (set ORDERLANE_PEBBLE to a pebble binary to skip the build): %v", pebbleBuild.err)
	}
	return pebbleBuild.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pebbleBuild.path != "" {
		os.RemoveAll(filepath.Dir(pebbleBuild.path))
	}
	os.Exit(code)
}

// pebble is a running Pebble.
type pebble struct {
	dir    string // its directory URL
	caFile string // PEM that signs its HTTPS listener
	roots  *x509.CertPool
	cmd    *exec.Cmd
	out    *logSink
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPebble runs Pebble, validating http-01 challenges on httpPort and
// tls-alpn-01 on tlsPort of 127.0.0.1.
func startPebble(t *testing.T, httpPort, tlsPort int) *pebble {
	t.Helper()
	bin := pebbleBinary(t)
	dir := t.TempDir()
	ca := newCA(t)
	c, k := ca.leaf(t, 1) // Pebble's own HTTPS certificate
	writeFile(t, filepath.Join(dir, "cert.pem"), c)
	writeFile(t, filepath.Join(dir, "key.pem"), k)
	caPEM := filepath.Join(dir, "ca.pem")
	writeFile(t, caPEM, pemCert(ca.cert))
	listen, mgmt := freePort(t), freePort(t)
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", listen),
		"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":             filepath.Join(dir, "cert.pem"),
		"privateKey":              filepath.Join(dir, "key.pem"),
		"httpPort":                httpPort,
		"tlsPort":                 tlsPort,
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":            "ecdsa",
	}}
	b, _ := json.Marshal(conf)
	writeFile(t, filepath.Join(dir, "pebble.json"), b)
	dns := startDNS(t)
	p := &pebble{
		dir:    fmt.Sprintf("https://127.0.0.1:%d/dir", listen),
		caFile: caPEM,
		out:    &logSink{},
	}
	p.cmd = exec.Command(bin, "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", dns)
	p.cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("pebble output:\n%s", p.out.String())
		}
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}, Timeout: 2 * time.Second}
	poll(t, "pebble to listen", func() bool {
		resp, err := client.Get(p.dir)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// The root that signs the certificates Pebble issues.
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmt))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	root, _ := io.ReadAll(resp.Body)
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(root) {
		t.Fatalf("pebble root: %s", root)
	}
	return p
}

func (p *pebble) stop() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// startDNS answers every A query with 127.0.0.1 and every other query
// with no records, over TCP on loopback (Pebble's -dnsserver asks over
// TCP).
func startDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				for {
					var n [2]byte
					if _, err := io.ReadFull(c, n[:]); err != nil {
						return
					}
					q := make([]byte, binary.BigEndian.Uint16(n[:]))
					if _, err := io.ReadFull(c, q); err != nil {
						return
					}
					resp := dnsAnswer(q)
					if resp == nil {
						return
					}
					if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dnsAnswer builds the reply to a one-question query (RFC 1035 4.1).
func dnsAnswer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	question := q[12 : i+5]
	out := make([]byte, 12, 64)
	copy(out, q[:2])                                              // id
	binary.BigEndian.PutUint16(out[2:], 0x8400|uint16(q[2]&1)<<8) // response, authoritative, RD copied
	binary.BigEndian.PutUint16(out[4:], 1)
	out = append(out, question...)
	if qtype == 1 { // A
		binary.BigEndian.PutUint16(out[6:], 1)
		out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
	}
	return out
}

// getThrough makes a request for https://acmeDomain/ to addr, trusting
// roots, and returns the response's protocol and the leaf's issuer.
func getThrough(t *testing.T, addr string, roots *x509.CertPool) (proto, issuer string) {
	t.Helper()
	d := &net.Dialer{}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	resp, err := client.Get("https://" + acmeDomain + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	leaf := resp.TLS.PeerCertificates[0]
	if err := leaf.VerifyHostname(acmeDomain); err != nil {
		t.Fatal(err)
	}
	return resp.Proto, leaf.Issuer.CommonName
}

// TestACMETLSALPN01: a certificate is obtained from the ACME server on the
// first handshake, the CA validating over TLS-ALPN-01 on orderlane's HTTPS
// listener, and served (HTTP/2, chaining to the CA's root); after a
// restart it is served from the cache in the data dir with the CA gone.
func TestACMETLSALPN01(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := startPebble(t, freePort(t), ln.Addr().(*net.TCPAddr).Port)
	cache := filepath.Join(t.TempDir(), "acme")
	cfg := tlsconf.Config{ACME: tlsconf.ACME{Domains: []string{acmeDomain}, DirectoryURL: p.dir, CAFile: p.caFile, CacheDir: cache}}
	tc, err := tlsconf.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var challenged atomic.Int32
	getCert := tc.Config.GetCertificate
	tc.Config.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if slices.Contains(h.SupportedProtos, "acme-tls/1") {
			challenged.Add(1)
		}
		return getCert(h)
	}
	addr := serve(t, tc, ln)
	proto, issuer := getThrough(t, addr, p.roots)
	if proto != "HTTP/2.0" || !strings.Contains(strings.ToLower(issuer), "pebble") {
		t.Fatalf("served %s, issuer %q; want HTTP/2 and a Pebble certificate", proto, issuer)
	}
	if challenged.Load() == 0 {
		t.Fatal("no tls-alpn-01 challenge handshake reached the listener")
	}
	if _, err := os.Stat(filepath.Join(cache, acmeDomain)); err != nil {
		t.Fatalf("certificate not cached: %v", err)
	}
	p.stop()
	tc2, err := tlsconf.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, issuer := getThrough(t, serve(t, tc2, nil), p.roots); !strings.Contains(strings.ToLower(issuer), "pebble") {
		t.Fatalf("after restart: issuer %q", issuer)
	}
}

// TestACMEHTTP01: with the plain-HTTP listener running (HTTPHandler) and
// TLS-ALPN-01 impossible (the CA's TLS port is closed), the certificate is
// obtained over HTTP-01 through the plain-HTTP listener, which redirects
// every other request to HTTPS.
func TestACMEHTTP01(t *testing.T) {
	t.Parallel()
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := startPebble(t, httpLn.Addr().(*net.TCPAddr).Port, freePort(t))
	tc, err := tlsconf.New(tlsconf.Config{ACME: tlsconf.ACME{Domains: []string{acmeDomain}, DirectoryURL: p.dir, CAFile: p.caFile, CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var challenged atomic.Int32
	h := tc.HTTPHandler(httpsLn.Addr().String())
	plain := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			challenged.Add(1)
		}
		h.ServeHTTP(w, r)
	})}
	go func() { _ = plain.Serve(httpLn) }()
	t.Cleanup(func() { plain.Close() })
	addr := serve(t, tc, httpsLn)

	proto, issuer := getThrough(t, addr, p.roots)
	if proto != "HTTP/2.0" || !strings.Contains(strings.ToLower(issuer), "pebble") {
		t.Fatalf("served %s, issuer %q", proto, issuer)
	}
	if challenged.Load() == 0 {
		t.Fatal("no http-01 challenge request reached the plain-HTTP listener")
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, "http://"+httpLn.Addr().String()+"/api/v1/orders", nil)
	req.Host = acmeDomain
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "https://" + acmeDomain + ":" + strconv.Itoa(httpsLn.Addr().(*net.TCPAddr).Port) + "/api/v1/orders"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("plain HTTP: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}
