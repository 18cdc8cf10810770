package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
)

// The secrets the fake server verifies with (the development values). The
// Shopee callback URL deliberately differs from the test server's URL:
// Shopee signs the registered URL, not the one the request reached.
var (
	testToken  = "test-token"
	testShopee = config.Shopee{
		PartnerID:   "2001887",
		PartnerKey:  "test_partner_key",
		PushKey:     "test_push_partner_key",
		CallbackURL: "https://orderlane.example.com/webhooks/shopee",
	}
	testLazada = config.Lazada{AppKey: "123456", AppSecret: "3412gyo124goi3124"}
	testTikTok = config.TikTok{AppKey: "29a39d", AppSecret: "e59af819cc"}
)

// fakeServer plays orderlane for the tests: it verifies every push with the
// real marketplace verifier (401 on mismatch), parses it with the real
// parser (400 on error), acknowledges it, and applies it afterwards, in
// arrival order, with the real status rule (order.Order.Apply) and dedup on
// the idempotency key. It serves GET /api/v1/orders/{platform}/{shop_id}/{order_id}
// behind the bearer token.
type fakeServer struct {
	*httptest.Server

	verifiers map[order.Platform]interface {
		Verify(signature string, body []byte) error
	}
	parsers map[order.Platform]func([]byte, time.Time) (order.Event, error)
	// dropFirst, if set, picks pushes whose first arrival is answered 503.
	dropFirst func(body []byte) bool

	queue   chan order.Event
	applied chan struct{} // closed when the applier has stopped

	mu      sync.Mutex
	arrived map[string]bool // bodies received before, for dropFirst
	keys    map[string]bool // idempotency keys applied
	orders  map[order.Key]*order.Order
	history map[order.Key][]order.EventRecord
	// swapHistory makes the events endpoint lie: the first two entries of
	// every history swapped, as a server applying out of order would show.
	swapHistory bool
	dropped     int // 503 answers
	dupes       int // pushes whose key was applied before
	stale       int // status events older than the status in force
	rejected    atomic.Int64
	// received counts push requests; /metrics reports 1 ms of CPU each.
	received atomic.Int64
}

// newFakeServer starts a fake orderlane server; it is closed when the test
// ends.
func newFakeServer(t *testing.T, dropFirst func(body []byte) bool) *fakeServer {
	t.Helper()
	f := &fakeServer{
		verifiers: map[order.Platform]interface {
			Verify(signature string, body []byte) error
		}{
			order.Shopee: shopee.NewVerifier(testShopee.CallbackURL, []byte(testShopee.PushKey), []byte(testShopee.PartnerKey)),
			order.Lazada: lazada.NewVerifier(testLazada.AppKey, []byte(testLazada.AppSecret)),
			order.TikTok: tiktok.NewVerifier(testTikTok.AppKey, []byte(testTikTok.AppSecret)),
		},
		parsers: map[order.Platform]func([]byte, time.Time) (order.Event, error){
			order.Shopee: shopee.Parse,
			order.Lazada: lazada.Parse,
			order.TikTok: tiktok.Parse,
		},
		dropFirst: dropFirst,
		queue:     make(chan order.Event, 1024),
		applied:   make(chan struct{}),
		arrived:   map[string]bool{},
		keys:      map[string]bool{},
		orders:    map[order.Key]*order.Order{},
		history:   map[order.Key][]order.EventRecord{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/{platform}", f.push)
	mux.HandleFunc("GET /api/v1/orders/{platform}/{shop_id}/{order_id}", f.getOrder)
	mux.HandleFunc("GET /api/v1/orders/{platform}/{shop_id}/{order_id}/events", f.getEvents)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %g\nprocess_resident_memory_bytes 1.048576e+08\n",
			float64(f.received.Load())/1000)
	})
	f.Server = httptest.NewServer(mux)
	go f.apply()
	t.Cleanup(func() {
		f.Close() // waits for the handlers
		close(f.queue)
		<-f.applied
	})
	return f
}

func (f *fakeServer) push(w http.ResponseWriter, r *http.Request) {
	f.received.Add(1)
	p := order.Platform(r.PathValue("platform"))
	verifier, ok := f.verifiers[p]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such marketplace")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
		return
	}
	if f.dropFirst != nil {
		f.mu.Lock()
		first := !f.arrived[string(body)]
		f.arrived[string(body)] = true
		drop := first && f.dropFirst(body)
		if drop {
			f.dropped++
		}
		f.mu.Unlock()
		if drop {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "try again")
			return
		}
	}
	if err := verifier.Verify(r.Header.Get("Authorization"), body); err != nil {
		f.rejected.Add(1)
		writeError(w, http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	ev, err := f.parsers[p](body, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	f.queue <- ev // ack after append; applied later
	if p == order.Shopee {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// apply folds the queued events into the orders, in arrival order.
func (f *fakeServer) apply() {
	defer close(f.applied)
	for ev := range f.queue {
		f.mu.Lock()
		switch {
		case f.keys[ev.Key]:
			f.dupes++
		case ev.Kind.IsOrder():
			f.keys[ev.Key] = true
			k := order.Key{Platform: ev.Platform, ShopID: ev.ShopID, OrderID: ev.OrderID}
			o := f.orders[k]
			if o == nil {
				o = &order.Order{}
				f.orders[k] = o
			}
			if o.Apply(&ev, time.Now()).Stale {
				f.stale++
			}
			f.history[k] = append(f.history[k], order.EventRecord{Key: ev.Key, ReceivedAt: ev.ReceivedAt, AppliedAt: time.Now()})
		default:
			f.keys[ev.Key] = true
		}
		f.mu.Unlock()
	}
}

func (f *fakeServer) getOrder(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		writeError(w, http.StatusUnauthorized, "unauthorized", "bad token")
		return
	}
	k := order.Key{
		Platform: order.Platform(r.PathValue("platform")),
		ShopID:   r.PathValue("shop_id"),
		OrderID:  r.PathValue("order_id"),
	}
	f.mu.Lock()
	var o order.Order
	found := f.orders[k] != nil
	if found {
		o = *f.orders[k]
	}
	f.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "not_found", order.ErrNotFound.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(o)
}

func (f *fakeServer) getEvents(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		writeError(w, http.StatusUnauthorized, "unauthorized", "bad token")
		return
	}
	k := order.Key{
		Platform: order.Platform(r.PathValue("platform")),
		ShopID:   r.PathValue("shop_id"),
		OrderID:  r.PathValue("order_id"),
	}
	f.mu.Lock()
	evs := append([]order.EventRecord{}, f.history[k]...)
	if f.swapHistory && len(evs) >= 2 {
		evs[0], evs[1] = evs[1], evs[0]
	}
	f.mu.Unlock()
	if len(evs) == 0 {
		writeError(w, http.StatusNotFound, "not_found", order.ErrNotFound.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"events": evs})
}

// counts returns the fake's counters.
func (f *fakeServer) counts() (orders, dropped, dupes, stale int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.orders), f.dropped, f.dupes, f.stale
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, msg)
}
