package powerloss

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/internal/lazyfs"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/server"
)

var (
	flagCuts    = flag.Int("cuts", 0, "power cuts per mode (default: 4 for a power-loss-safe mode, 2 for an interval; make powerloss: 12)")
	flagOrders  = flag.Int("orders", 200, "orders per mode, 6 pushes each")
	flagModes   = flag.String("modes", "always,1s", "fsync modes to run, comma-separated")
	flagKeepDir = flag.String("keep", "", "on failure, write what is on the simulated disk under this directory")
	flagTrace   = flag.String("fstrace", "", "write every directory change and fsync of the filesystem to this file")
)

const (
	childEnv  = "ORDERLANE_POWERLOSS_CHILD"
	apiToken  = "powerloss-token"
	pushKey   = "powerloss-push-key"
	senders   = 48
	pushesPer = 6
)

// lifecycle is the status of each of an order's pushes, in order.
var lifecycle = [pushesPer]string{"UNPAID", "READY_TO_SHIP", "PROCESSED", "SHIPPED", "TO_CONFIRM_RECEIVE", "COMPLETED"}

// TestMain runs the server instead of the tests when started as the child.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	flag.Parse()
	os.Exit(m.Run())
}

// runChild serves with the configuration in the environment until killed.
func runChild() int {
	cfg, err := config.Load("", os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := server.Start(context.Background(), cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 1
	}
	select {} // until SIGKILL
}

func TestPowerLoss(t *testing.T) {
	if err := lazyfs.Usable(); err != nil {
		t.Skipf("skipped: %v (the power-loss harness needs /dev/fuse and the right to mount, e.g. root)", err)
	}
	for _, mode := range strings.Split(*flagModes, ",") {
		t.Run("fsync="+mode, func(t *testing.T) {
			cfg := config.Config{Fsync: mode}.WithDefaults()
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			cuts, orders := *flagCuts, *flagOrders
			switch {
			case cuts == 0 && cfg.PowerLossSafe():
				cuts = 4
			case cuts == 0:
				cuts = 2
			}
			h := setup(t, mode)
			res := h.run(cuts, orders)
			t.Logf("fsync=%s: %s", mode, res)
			switch {
			case cfg.PowerLossSafe() && !res.ok():
				h.keep()
				t.Fatalf("fsync=%s: acknowledged pushes lost or histories wrong after %d power cuts:\n%s", mode, cuts, strings.Join(res.problems, "\n"))
			case !cfg.PowerLossSafe() && res.lost == 0 && res.refused == "":
				t.Fatalf("fsync=%s: no acknowledged push lost in %d power cuts: the harness did not see the loss this mode allows", mode, cuts)
			}
		})
	}
}

// harness is one mode's run: the filesystem, the child server, the storm.
type harness struct {
	t      *testing.T
	mode   string
	fs     *lazyfs.FS
	mnt    *lazyfs.Mount
	dir    string // the mount point
	addr   string
	logf   *os.File
	child  *exec.Cmd
	exited chan error // the child's exit, once
	client *http.Client
	rng    *rand.Rand
	runID  string

	mu     sync.Mutex
	orders []*orderPlan
}

type orderPlan struct {
	shop, id string
	acked    atomic.Int32 // pushes 0..acked-1 were answered 200
	sent     atomic.Int32 // pushes 0..sent-1 were sent at least once
}

func (o *orderPlan) msgID(runID string, i int) string {
	return fmt.Sprintf("%s-%s-%d", runID, o.id, i)
}

func setup(t *testing.T, mode string) *harness {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	h := &harness{
		t: t, mode: mode, fs: lazyfs.New(), dir: t.TempDir(),
		client: &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}},
		rng:    rand.New(rand.NewPCG(seed, 1)),
		runID:  strconv.FormatUint(seed%1e9, 36),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = l.Addr().String()
	l.Close()
	if h.logf, err = os.Create(filepath.Join(t.TempDir(), "server.log")); err != nil {
		t.Fatal(err)
	}
	if *flagTrace != "" {
		tf, err := os.Create(*flagTrace + "." + mode)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tf.Close() })
		h.fs.Trace = func(op string, args ...any) {
			fmt.Fprintln(tf, append([]any{time.Now().Format("15:04:05.000000"), op}, args...)...)
		}
	}
	if h.mnt, err = h.fs.Mount(h.dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.kill()
		if h.mnt != nil {
			if err := h.mnt.Unmount(); err != nil {
				t.Error(err)
			}
		}
		if t.Failed() {
			h.logTail()
		}
	})
	if err := h.start(); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) callbackURL() string { return "http://" + h.addr + "/webhooks/shopee" }

// start runs the child server on the mount and waits until it is ready,
// or returns why it is not.
func (h *harness) start() error {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"=1",
		"ORDERLANE_DATA_DIR="+filepath.Join(h.dir, "data"),
		"ORDERLANE_HTTP_ADDR="+h.addr,
		"ORDERLANE_FSYNC="+h.mode,
		"ORDERLANE_API_TOKEN="+apiToken,
		"ORDERLANE_SHOPEE_PUSH_KEY="+pushKey,
		"ORDERLANE_SHOPEE_CALLBACK_URL="+h.callbackURL(),
		"ORDERLANE_LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = h.logf, h.logf
	if err := cmd.Start(); err != nil {
		return err
	}
	h.child, h.exited = cmd, make(chan error, 1)
	go func() { h.exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := h.client.Get("http://" + h.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-h.exited:
			h.child = nil
			return fmt.Errorf("server exited during start (%w): %s", err, h.lastLogLine())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("server not ready after 60s")
		}
	}
}

// kill SIGKILLs the child, if running, and waits until it is gone.
func (h *harness) kill() {
	if h.child == nil {
		return
	}
	_ = h.child.Process.Kill()
	<-h.exited
	h.child = nil
}

// cut is one simulated power failure and reboot. The error says why the
// server did not start again.
func (h *harness) cut() (lazyfs.CutReport, error) {
	h.t.Helper()
	mode := lazyfs.CutMode(h.rngInt(2))
	rngMu.Lock()
	rep := h.fs.Cut(mode, h.rng) // from this instant nothing more reaches the disk
	rngMu.Unlock()
	h.kill()
	if err := h.mnt.Unmount(); err != nil {
		h.t.Fatal(err)
	}
	h.mnt = nil
	h.fs.PowerOn()
	var err error
	if h.mnt, err = h.fs.Mount(h.dir); err != nil {
		h.t.Fatal(err)
	}
	return rep, h.start()
}

// result is what the checks found.
type result struct {
	// refused says why the server did not start again after a cut.
	refused                            string
	cuts, orders                       int
	acked, lost, duplicated, reordered int
	wrongStatus, unackedApplied        int
	problems                           []string
	elapsed                            time.Duration
}

func (r result) ok() bool {
	return r.refused == "" && r.lost == 0 && r.duplicated == 0 && r.reordered == 0 && r.wrongStatus == 0 && len(r.problems) == 0
}

func (r result) String() string {
	if r.refused != "" {
		return fmt.Sprintf("%d orders, %d pushes acknowledged, then the server would not start again after cut %d: %s", r.orders, r.acked, r.cuts, r.refused)
	}
	return fmt.Sprintf("%d cuts, %d orders, %d pushes acknowledged: %d lost, %d duplicated, %d reordered, %d orders with a wrong status (%d unacknowledged pushes applied, which is allowed) in %s",
		r.cuts, r.orders, r.acked, r.lost, r.duplicated, r.reordered, r.wrongStatus, r.unackedApplied, r.elapsed.Round(time.Second))
}

// run drives the storm, cuts the power cuts times at random moments, lets
// the storm finish, and checks.
func (h *harness) run(cuts, orders int) result {
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	next := make(chan *orderPlan)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for o := range next {
				h.deliver(ctx, o)
			}
		})
	}
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		defer close(next)
		for i := range orders {
			o := &orderPlan{shop: strconv.Itoa(100000 + i%7), id: fmt.Sprintf("PL%s%05d", strings.ToUpper(h.runID), i)}
			h.mu.Lock()
			h.orders = append(h.orders, o)
			h.mu.Unlock()
			select {
			case next <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Spread the cuts over the storm: cut c comes at a random point of
	// the (c+1)-th stretch of the acknowledgements expected.
	total := orders * pushesPer
	stretch := total / (cuts + 1)
	for c := range cuts {
		target := stretch*(c+1) - h.rngInt(stretch/2+1)
		for h.ackedCount() < target && !h.done(orders) {
			time.Sleep(5 * time.Millisecond) // polls the storm's progress
		}
		acked := h.ackedCount()
		if h.fs.Trace != nil {
			h.fs.Trace("CUT", "n", c+1, "acked", acked)
		}
		rep, err := h.cut()
		h.t.Logf("cut %d at %d acknowledged pushes: %s", c+1, acked, rep)
		if err != nil {
			cancel() // the storm cannot go on
			wg.Wait()
			<-fed
			return result{refused: err.Error(), cuts: c + 1, orders: orders, acked: acked, elapsed: time.Since(start)}
		}
	}
	wg.Wait()
	<-fed
	res := h.check()
	res.cuts, res.orders, res.elapsed = cuts, orders, time.Since(start)
	return res
}

func (h *harness) done(orders int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.orders) < orders {
		return false
	}
	for _, o := range h.orders {
		if o.acked.Load() < pushesPer {
			return false
		}
	}
	return true
}

func (h *harness) ackedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, o := range h.orders {
		n += int(o.acked.Load())
	}
	return n
}

// deliver sends o's pushes in order, each until it is answered 200, as a
// marketplace retries (the same push, same msg_id) after an error.
func (h *harness) deliver(ctx context.Context, o *orderPlan) {
	base := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC).Unix()
	for i := range pushesPer {
		body, _ := json.Marshal(map[string]any{
			"msg_id": o.msgID(h.runID, i), "shop_id": json.Number(o.shop), "code": 3,
			"timestamp": base + int64(i),
			"data":      map[string]any{"ordersn": o.id, "status": lifecycle[i], "update_time": base + int64(i)},
		})
		sig := shopee.SignPush(h.callbackURL(), []byte(pushKey), body)
		if int(o.sent.Load()) < i+1 {
			o.sent.Store(int32(i + 1))
		}
		for ctx.Err() == nil {
			if h.post(ctx, body, sig) {
				o.acked.Store(int32(i + 1))
				break
			}
			time.Sleep(time.Duration(20+h.rngInt(30)) * time.Millisecond)
		}
	}
}

var rngMu sync.Mutex

func (h *harness) rngInt(n int) int {
	rngMu.Lock()
	defer rngMu.Unlock()
	return h.rng.IntN(n)
}

func (h *harness) post(ctx context.Context, body []byte, sig string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+h.addr+"/webhooks/shopee", bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", sig)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// view is what the API shows of one order.
type view struct {
	found  bool
	order  order.Order
	events []order.EventRecord
}

func (h *harness) view(ctx context.Context, o *orderPlan) (view, error) {
	var v view
	path := "/api/v1/orders/shopee/" + url.PathEscape(o.shop) + "/" + url.PathEscape(o.id)
	found, err := h.getJSON(ctx, path, &v.order)
	if err != nil || !found {
		return v, err
	}
	var body struct {
		Events []order.EventRecord `json:"events"`
	}
	if found, err = h.getJSON(ctx, path+"/events", &body); err != nil || !found {
		return v, err
	}
	v.found, v.events = true, body.Events
	return v, nil
}

func (h *harness) getJSON(ctx context.Context, path string, dst any) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.addr+path, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := h.client.Do(req)
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

// verdict compares o's view with what was sent and acknowledged.
func (h *harness) verdict(o *orderPlan, v view, r *result) {
	acked := int(o.acked.Load())
	index := map[string]int{}
	for i := range pushesPer {
		index["shopee:"+o.msgID(h.runID, i)] = i
	}
	seen := map[int]int{}
	last := -1
	for _, e := range v.events {
		i, ok := index[e.Key]
		if !ok {
			r.problems = append(r.problems, fmt.Sprintf("order %s: event %s was never sent", o.id, e.Key))
			continue
		}
		seen[i]++
		if seen[i] == 2 {
			r.duplicated++
			r.problems = append(r.problems, fmt.Sprintf("order %s: push %d applied twice", o.id, i))
		}
		if i < last {
			r.reordered++
			r.problems = append(r.problems, fmt.Sprintf("order %s: push %d applied after push %d", o.id, i, last))
		}
		last = max(last, i)
		if i >= acked {
			r.unackedApplied++
		}
	}
	for i := range acked {
		if seen[i] == 0 {
			r.lost++
			if r.lost <= 20 {
				r.problems = append(r.problems, fmt.Sprintf("order %s: acknowledged push %d (%s) not applied", o.id, i, lifecycle[i]))
			}
		}
	}
	if last >= 0 && v.order.PlatformStatus != lifecycle[last] {
		r.wrongStatus++
		r.problems = append(r.problems, fmt.Sprintf("order %s: status %s, its latest push says %s", o.id, v.order.PlatformStatus, lifecycle[last]))
	}
}

// check waits until the server has applied what it will apply (every
// acknowledged push, or no change for a while), then judges every order.
func (h *harness) check() result {
	ctx := context.Background()
	h.mu.Lock()
	orders := append([]*orderPlan(nil), h.orders...)
	h.mu.Unlock()
	deadline := time.Now().Add(90 * time.Second)
	var lastSig string
	stable := 0
	for {
		views, err := h.views(ctx, orders)
		var r result
		if err == nil {
			for i, o := range orders {
				r.acked += int(o.acked.Load())
				h.verdict(o, views[i], &r)
			}
		}
		sig := fmt.Sprintf("%v/%d/%d/%d/%d", err, r.lost, r.duplicated, r.unackedApplied, r.wrongStatus)
		if sig == lastSig {
			stable++
		} else {
			stable = 0
		}
		lastSig = sig
		// Done when nothing is missing and two more looks saw no change,
		// or when nothing changed for 5 s (what is missing stays so).
		if err == nil && ((r.lost == 0 && r.wrongStatus == 0 && stable >= 2) || stable >= 10) {
			return r
		}
		if time.Now().After(deadline) {
			if err != nil {
				r.problems = append(r.problems, err.Error())
			}
			return r
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (h *harness) views(ctx context.Context, orders []*orderPlan) ([]view, error) {
	vs := make([]view, len(orders))
	errs := make([]error, len(orders))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				vs[i], errs[i] = h.view(ctx, orders[i])
			}
		})
	}
	for i := range orders {
		next <- i
	}
	close(next)
	wg.Wait()
	return vs, errors.Join(errs...)
}

// keep writes the simulated disk out for a look, if -keep is set.
func (h *harness) keep() {
	if *flagKeepDir == "" {
		return
	}
	dir := filepath.Join(*flagKeepDir, h.mode)
	if err := h.fs.WriteDisk(dir); err != nil {
		h.t.Logf("keep: %v", err)
		return
	}
	h.t.Logf("what is on the simulated disk is in %s", dir)
}

// lastLogLine is the server log's last line.
func (h *harness) lastLogLine() string {
	b, _ := os.ReadFile(h.logf.Name())
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func (h *harness) logTail() {
	b, err := os.ReadFile(h.logf.Name())
	if err != nil {
		return
	}
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	h.t.Logf("server log (tail):\n%s", b)
}
