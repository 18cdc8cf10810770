package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
)

// Test secrets: the server gets them through its environment, the
// generator signs with them.
const (
	apiToken      = "chaos-api-token"
	shopeePushKey = "chaos-shopee-push-key"
	lazadaAppKey  = "100300"
	lazadaSecret  = "chaos-lazada-app-secret"
	tiktokAppKey  = "chaostiktok"
	tiktokSecret  = "chaos-tiktok-app-secret"
)

// server runs `orderlane serve` again and again on one address and data
// dir.
type server struct {
	t    *testing.T
	bin  string
	addr string
	base string
	env  []string
	out  *logBuffer
	api  *http.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

func newServer(t *testing.T, bin, callbackURL string, addr string) *server {
	s := &server{
		t: t, bin: bin, addr: addr, base: "http://" + addr, out: &logBuffer{},
		api: &http.Client{Timeout: 10 * time.Second},
	}
	s.env = append(environWithout("ORDERLANE_"),
		"ORDERLANE_HTTP_ADDR="+addr,
		"ORDERLANE_DATA_DIR="+t.TempDir(),
		"ORDERLANE_API_TOKEN="+apiToken,
		"ORDERLANE_LOG_LEVEL=warn",
		"ORDERLANE_SHOPEE_PUSH_KEY="+shopeePushKey,
		"ORDERLANE_SHOPEE_CALLBACK_URL="+callbackURL,
		"ORDERLANE_LAZADA_APP_KEY="+lazadaAppKey,
		"ORDERLANE_LAZADA_APP_SECRET="+lazadaSecret,
		"ORDERLANE_TIKTOK_APP_KEY="+tiktokAppKey,
		"ORDERLANE_TIKTOK_APP_SECRET="+tiktokSecret,
	)
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("orderlane output, %d run(s):\n%s", s.runs, s.out.tail(128<<10))
		}
	})
	return s
}

// start runs the server and waits until /readyz answers 200.
func (s *server) start() error {
	s.mu.Lock()
	s.runs++
	fmt.Fprintf(s.out, "----- run %d -----\n", s.runs)
	cmd := exec.Command(s.bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = s.env, s.out, s.out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := s.api.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("run %d exited before ready", s.runs)
		case <-time.After(20 * time.Millisecond): // poll interval
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("run %d not ready after 60s", s.runs)
		}
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (s *server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// getJSON GETs an API path into dst; found is false on 404.
func (s *server) getJSON(ctx context.Context, path string, dst any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := s.api.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, json.NewDecoder(resp.Body).Decode(dst)
	case http.StatusNotFound:
		return false, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return false, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
}

func orderPath(k order.Key) string {
	return "/api/v1/orders/" + url.PathEscape(string(k.Platform)) + "/" + url.PathEscape(k.ShopID) + "/" + url.PathEscape(k.OrderID)
}

// subscriptionState is what the check reads of GET /api/v1/subscriptions.
type subscriptionState struct {
	Name         string  `json:"name"`
	Pending      int64   `json:"pending"`
	Held         int     `json:"held"`
	DeadLettered uint64  `json:"dead_lettered"`
	Redeliveries uint64  `json:"redeliveries"`
	Paused       bool    `json:"paused"`
	Oldest       float64 `json:"oldest_unacked_seconds"`
}

func (s *server) subscriptions(ctx context.Context) ([]subscriptionState, error) {
	var body struct {
		Subscriptions []subscriptionState `json:"subscriptions"`
	}
	_, err := s.getJSON(ctx, "/api/v1/subscriptions", &body)
	return body.Subscriptions, err
}

// deadLetter is what the check reads of a dead letter.
type deadLetter struct {
	ID           string `json:"id"`
	Subscription string `json:"subscription"`
	Group        string `json:"group"`
	MsgID        string `json:"msg_id"`
	Reason       string `json:"reason"`
	Error        string `json:"error"`
}

// deadLetters lists every dead letter, page by page.
func (s *server) deadLetters(ctx context.Context) ([]deadLetter, error) {
	var all []deadLetter
	cursor := ""
	for {
		var page struct {
			DeadLetters []deadLetter `json:"dead_letters"`
			NextCursor  string       `json:"next_cursor"`
		}
		if _, err := s.getJSON(ctx, "/api/v1/deadletters?limit=1000&cursor="+cursor, &page); err != nil {
			return nil, err
		}
		all = append(all, page.DeadLetters...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// logBuffer collects the output of every run; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) tail(max int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > max {
		return "[...]\n" + s[len(s)-max:]
	}
	return s
}

// discard deletes a dead letter through the admin API.
func (s *server) discard(ctx context.Context, id string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.base+"/api/v1/deadletters/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := s.api.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("discard dead letter %s: %s", id, resp.Status)
	}
	return nil
}
