package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
)

// TestSandboxDelivers runs the command against a receiver that checks
// each marketplace's signature: every push verifies, and the JSON report
// counts what arrived.
func TestSandboxDelivers(t *testing.T) {
	var mu sync.Mutex
	got := map[order.Platform]int{}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := order.Platform(strings.TrimPrefix(r.URL.Path, "/webhooks/"))
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		app, sig := sandbox.TestApp(p), r.Header.Get("Authorization")
		var err error
		switch p {
		case order.Shopee:
			err = shopee.NewVerifier(srv.URL+"/webhooks/shopee", []byte(app.PushKey)).Verify(sig, body.Bytes())
		case order.Lazada:
			err = lazada.NewVerifier(app.Key, []byte(app.Secret)).Verify(sig, body.Bytes())
		case order.TikTok:
			err = tiktok.NewVerifier(app.Key, []byte(app.Secret)).Verify(sig, body.Bytes())
		default:
			t.Errorf("push to %s", r.URL.Path)
		}
		if err != nil {
			t.Errorf("%s push: %v", p, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got[p]++
		mu.Unlock()
	}))
	defer srv.Close()

	var out, info bytes.Buffer
	f := sandboxFlags{listen: "127.0.0.1:0", target: srv.URL, orders: 9, shops: 1, seed: 3, timeFactor: 100_000,
		duplicates: 0.1, reorder: 0.1, json: true}
	if err := f.validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := playSandbox(ctx, f, &out, &info); err != nil {
		t.Fatal(err)
	}
	var rep sandbox.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	if len(rep.Truth) != 9 || len(rep.Platforms) != 3 {
		t.Fatalf("report of %d orders, %d platforms", len(rep.Truth), len(rep.Platforms))
	}
	for _, pr := range rep.Platforms {
		if pr.Pushes == 0 || got[pr.Platform] != pr.Attempts || pr.Delivered != pr.Attempts {
			t.Errorf("%s: receiver got %d, report %+v", pr.Platform, got[pr.Platform], pr)
		}
	}
	for _, want := range []string{"NOT SECRET", sandbox.TestApp(order.TikTok).Key, "/shopee", "auth code"} {
		if !strings.Contains(info.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, info.String())
		}
	}
}

func TestSandboxFlags(t *testing.T) {
	good := sandboxFlags{orders: 1, shops: 1, timeFactor: 1}
	for name, change := range map[string]func(*sandboxFlags){
		"lost":        func(f *sandboxFlags) { f.lost = 2 },
		"orders":      func(f *sandboxFlags) { f.orders = 0 },
		"time factor": func(f *sandboxFlags) { f.timeFactor = 0.5 },
		"target":      func(f *sandboxFlags) { f.target = "localhost:8080" },
	} {
		f := good
		change(&f)
		if err := f.validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := good.validate(); err != nil {
		t.Errorf("good flags: %v", err)
	}
}

func TestSandboxTablePrints(t *testing.T) {
	var b bytes.Buffer
	rep := sandbox.Report{Platforms: []sandbox.PlatformReport{{Platform: order.Lazada, Pushes: 3, Attempts: 4, Failed: 3, Disabled: true}},
		Truth: []sandbox.ExpectedOrder{{Status: order.StatusCompleted}}}
	if err := printReport(&b, rep, false); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); !strings.Contains(s, "lazada") || !strings.Contains(s, "YES") || !strings.Contains(s, "1 completed") {
		t.Errorf("table:\n%s", s)
	}
}

// TestSandboxSaleNeverAheadOfRealTime: every change of the generated sale
// is stamped before the real time at which it is delivered (the clock
// starts the sale's length in the past), so a reconciliation listing up
// to its own now sees every change.
func TestSandboxSaleNeverAheadOfRealTime(t *testing.T) {
	now := time.Now()
	_, _, script := newSandboxSale(sandboxFlags{orders: 50, shops: 2, seed: 7, timeFactor: 600}, now)
	if script.End.After(now) || !script.Start.Before(script.End) {
		t.Fatalf("sale from %s to %s, generated at %s: ahead of real time", script.Start, script.End, now)
	}
	if now.Sub(script.End) > 2*time.Minute {
		t.Fatalf("sale ends %s before now: the clock starts too far back", now.Sub(script.End))
	}
}
