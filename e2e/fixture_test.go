package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// binPath is the orderlane binary TestMain built ("" under -short).
var binPath string

// fixture is one server setup: a fixed loopback address and data dir that
// survive restarts, the environment with the test secrets, the output of
// every run, and clients for the webhooks and the API.
type fixture struct {
	t    *testing.T
	addr string // 127.0.0.1:port, kept across restarts
	base string // http://addr
	env  []string
	out  *logBuffer // stdout and stderr of every run
	runs int
	gen  *pushgen
	api  *http.Client // API reads, /readyz and /metrics
}

// setup skips under -short, or returns a fixture for a server not yet
// started. The output of every run is logged if the test fails.
func setup(t *testing.T) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: builds and runs the orderlane binary as a subprocess; skipped under -short")
	}
	if binPath == "" {
		t.Fatal("e2e: no orderlane binary (TestMain did not build it)")
	}
	addr := freeAddr(t)
	f := &fixture{
		t:    t,
		addr: addr,
		base: "http://" + addr,
		out:  &logBuffer{},
		api:  newClient(8),
	}
	f.gen = newPushgen(t, f.base+"/webhooks/shopee")
	f.env = append(environWithout("ORDERLANE_"),
		"ORDERLANE_HTTP_ADDR="+addr,
		"ORDERLANE_DATA_DIR="+t.TempDir(),
		"ORDERLANE_API_TOKEN="+apiToken,
		"ORDERLANE_FSYNC=always",
		"ORDERLANE_SHOPEE_PUSH_KEY="+shopeePushKey,
		"ORDERLANE_SHOPEE_CALLBACK_URL="+f.gen.callbackURL,
		"ORDERLANE_LAZADA_APP_KEY="+lazadaAppKey,
		"ORDERLANE_LAZADA_APP_SECRET="+lazadaSecret,
		"ORDERLANE_TIKTOK_APP_KEY="+tiktokAppKey,
		"ORDERLANE_TIKTOK_APP_SECRET="+tiktokSecret,
	)
	// Registered first, so it runs last: after every run was stopped and
	// its output copied.
	t.Cleanup(func() {
		f.api.CloseIdleConnections()
		if t.Failed() {
			t.Logf("orderlane output, %d run(s):\n%s", f.runs, f.out.tail(256<<10))
		}
	})
	return f
}

// start runs the server on the fixture's address and data dir and waits
// until /readyz answers 200. The process is killed at the end of the test
// if still running.
func (f *fixture) start() *proc {
	f.t.Helper()
	f.runs++
	f.api.CloseIdleConnections() // any are to a previous run
	fmt.Fprintf(f.out, "----- run %d -----\n", f.runs)
	p, err := startProc(binPath, f.env, f.out)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		if !p.exited() {
			p.kill()
		}
	})
	if err := f.waitReady(p, 30*time.Second); err != nil {
		f.t.Fatalf("run %d: %v", f.runs, err)
	}
	return p
}

// waitReady polls /readyz until it answers 200, p exits, or the timeout.
func (f *fixture) waitReady(p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(f.t.Context(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/readyz", nil)
		resp, err := f.api.Do(req)
		if err == nil {
			resp.Body.Close()
			last = resp.Status
		} else {
			last = errReason(err)
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s (last /readyz: %s)", timeout, last)
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before ready: %v", p.err)
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// environWithout is this process's environment minus the variables that
// start with prefix, so that no outside setting reaches the server.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}
