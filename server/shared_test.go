package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/server"
)

// redisProcess is a redis-server of the test's own, on a free port, so
// that stopping it disturbs nothing else.
type redisProcess struct {
	t    *testing.T
	bin  string
	port string
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisProcess {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed: cannot stop and restart a Redis of the test's own")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	r := &redisProcess{t: t, bin: bin, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisProcess) url() string { return "redis://127.0.0.1:" + r.port + "/0" }

func (r *redisProcess) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", r.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + r.port, MaxRetries: -1})
	defer c.Close()
	waitFor(r.t, 10*time.Second, "redis-server answers", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

func (r *redisProcess) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// syncBuffer collects the server's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

// TestRedisOutageDegradesAndRecovers: with ORDERLANE_REDIS_URL set, Redis
// is killed mid-test. Every push is still answered 200 only after its
// durable append (each accepted order reaches the store), duplicates are
// still dropped by the in-process tier, /readyz stays 200, the failures
// are counted and logged (rate-limited), the look-up cache keeps loading,
// and once Redis is back the shared tier is used again.
func TestRedisOutageDegradesAndRecovers(t *testing.T) {
	t.Parallel()
	rp := startRedis(t)
	logs := &syncBuffer{}
	cfg := config.Config{
		HTTPAddr: "127.0.0.1:0",
		DataDir:  t.TempDir(),
		APIToken: "test-token",
		Shopee:   config.Shopee{PushKey: "k1", CallbackURL: "https://seller.example/webhooks/shopee"},
		Redis:    config.Redis{URL: rp.url()},
	}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	base := "http://" + srv.Addr()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + rp.port, MaxRetries: -1})
	defer rdb.Close()
	inRedis := func(id string) bool {
		n, err := rdb.Exists(context.Background(), "orderlane:dedup.shopee:"+id).Result()
		return err == nil && n == 1
	}
	push := func(id string) {
		t.Helper()
		body := fmt.Sprintf(`{"msg_id":%q,"data":{"items":[],"ordersn":"ORD%s","status":"READY_TO_SHIP","update_time":1765689439},"shop_id":336094210,"code":3,"timestamp":1765689440}`, id, id)
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/shopee", strings.NewReader(body))
		req.Header.Set("Authorization", shopee.SignPush(cfg.Shopee.CallbackURL, []byte(cfg.Shopee.PushKey), []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("push %s: %d %s, want 200", id, resp.StatusCode, out)
		}
	}
	get := func(path string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+srv.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	shops, err := cache.New[string](srv.CacheConfig("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer shops.Close()
	loadShop := func(context.Context) (string, error) { return "SG", nil }

	push("m1")
	if !inRedis("m1") {
		t.Fatal("with Redis up, an accepted push's key is not in Redis")
	}

	rp.stop()
	push("m1") // known: the in-process tier answers
	push("m2") // new: appended, marked in process only
	push("m2") // dropped by the in-process tier
	if v, err := shops.Get(context.Background(), "336094210", loadShop); err != nil || v != "SG" {
		t.Fatalf("cache with Redis down: %q %v", v, err)
	}
	if code := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with Redis down: %d, want 200", code)
	}
	m := scrape(t, base)
	if m[`orderlane_shared_store_errors_total{op="get",store="redis"}`] < 1 {
		t.Fatalf("shared-tier errors not counted: %v", m)
	}
	if m[`orderlane_shared_store_up{store="redis"}`] != 0 {
		t.Fatal("orderlane_shared_store_up is not 0 with Redis down")
	}
	if got := m[`orderlane_pushes_total{platform="shopee",result="duplicate_filtered"}`]; got != 2 {
		t.Fatalf("duplicate_filtered = %v, want 2", got)
	}
	if got := m[`orderlane_pushes_total{platform="shopee",result="accepted"}`]; got != 2 {
		t.Fatalf("accepted = %v, want 2", got)
	}
	if n := logs.count("shared store failed"); n < 1 || n > 2 {
		t.Fatalf("%d outage warnings logged, want 1 or 2 (rate-limited)", n)
	}

	rp.start()
	i := 0
	waitFor(t, 15*time.Second, "the shared tier is used again", func() bool {
		i++
		id := fmt.Sprintf("r%d", i)
		push(id)
		return inRedis(id)
	})
	if m := scrape(t, base); m[`orderlane_shared_store_up{store="redis"}`] != 1 {
		t.Fatal("orderlane_shared_store_up is not 1 after Redis returned")
	}
	// Every push answered 200 was appended: each accepted order reaches
	// the store.
	ids := []string{"m1", "m2"}
	for j := 1; j <= i; j++ {
		ids = append(ids, fmt.Sprintf("r%d", j))
	}
	for _, id := range ids {
		waitFor(t, 15*time.Second, "order "+id+" applied", func() bool {
			return get("/api/v1/orders/shopee/336094210/ORD"+id) == http.StatusOK
		})
	}
}

// scrape returns /metrics as series -> value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return out
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
