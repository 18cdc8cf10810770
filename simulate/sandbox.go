package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
	"github.com/orderlane/orderlane/sandbox/shopeesim"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
)

// SandboxOptions configures RunSandbox. The zero value of every field but
// BaseURL, APIToken and the marketplace secrets has a documented default.
type SandboxOptions struct {
	// BaseURL is the orderlane server, e.g. "http://127.0.0.1:8080".
	// Required.
	BaseURL string
	// APIToken authorises the query API used to check the orders.
	// Required.
	APIToken string

	// Shopee, Lazada and TikTok are the server's marketplace secrets: the
	// sandbox's apps take them, so its fakes sign pushes as the real
	// marketplaces would for this server (Shopee with PushKey, else
	// PartnerKey, over CallbackURL exactly; Lazada and TikTok with AppKey
	// and AppSecret). A marketplace whose secrets are incomplete is left
	// out of the sale.
	Shopee config.Shopee
	Lazada config.Lazada
	TikTok config.TikTok

	// Orders is how many orders the sale has, spread over the marketplaces
	// left in. Defaults to 300, at most sandbox.MaxOrders.
	Orders int
	// Shops is how many shops each marketplace has. Defaults to 5, at
	// most sandbox.MaxShops.
	Shops int
	// Seed makes the sale and the delivery scenarios reproducible; 0 picks
	// a random seed, which the report names. The sale's shops and orders
	// follow from the seed alone: a seed replayed against the same server
	// finds its orders already there.
	Seed uint64
	// TimeFactor is how many simulated seconds pass per real second: the
	// sale spans hours, and its pushes, duplicates and retries keep their
	// simulated spacing divided by TimeFactor. Defaults to 3600 (an hour
	// of sale per second), at most
	// MaxTimeFactor.
	TimeFactor float64
	// Duplicates, Reorder and TrackingFirst are the delivery scenarios'
	// shares in [0, 1] (see sandbox.DeliveryOptions). They default to
	// 0.1, 0.1 and 0.2; a negative value means none.
	Duplicates    float64
	Reorder       float64
	TrackingFirst float64
	// Lost is the share of pushes never sent. Defaults to 0: without the
	// marketplace APIs (this mode gives the server push secrets only) no
	// reconciliation can recover a lost push, so its order ends wrong.
	Lost float64
	// Concurrency bounds the pushes in flight and the parallel polls of
	// the query API. Defaults to 32.
	Concurrency int
	// ApplyTimeout bounds the wait, after the last push was answered, for
	// every order to show its expected state. Defaults to 60s.
	ApplyTimeout time.Duration
	// Progress, if not nil, receives a line when the delivery starts and
	// one when it ends.
	Progress io.Writer
	// Log receives the delivery's warnings (pushes given up). Defaults to
	// discard.
	Log *slog.Logger
	// HTTPClient delivers the pushes and reads the orders back. Defaults
	// to a client with a connection pool sized to Concurrency (and, for
	// the query API, a 10s timeout per request).
	HTTPClient *http.Client
}

// MaxTimeFactor bounds SandboxOptions.TimeFactor: beyond it a sale's hours
// pass in microseconds and the server, not the schedule, sets the pace.
const MaxTimeFactor = 1_000_000

// SandboxOptions defaults not shared with Options.
const (
	DefaultSandboxShops         = 5
	DefaultTimeFactor           = 3600
	DefaultSandboxDuplicates    = 0.1
	DefaultSandboxReorder       = 0.1
	DefaultSandboxTrackingFirst = 0.2
)

func (o SandboxOptions) withDefaults() SandboxOptions {
	if o.Orders <= 0 {
		o.Orders = DefaultOrders
	}
	if o.Shops <= 0 {
		o.Shops = DefaultSandboxShops
	}
	if o.TimeFactor == 0 {
		o.TimeFactor = DefaultTimeFactor
	}
	ratio := func(r *float64, def float64) {
		switch {
		case *r == 0:
			*r = def
		case *r < 0:
			*r = 0
		}
	}
	ratio(&o.Duplicates, DefaultSandboxDuplicates)
	ratio(&o.Reorder, DefaultSandboxReorder)
	ratio(&o.TrackingFirst, DefaultSandboxTrackingFirst)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.ApplyTimeout <= 0 {
		o.ApplyTimeout = DefaultApplyTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return o
}

// validate names the first bad option.
func (o SandboxOptions) validate() error {
	if o.BaseURL == "" {
		return errors.New("simulate: BaseURL is required")
	}
	if u, err := url.Parse(o.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("simulate: BaseURL %q: want an http(s) URL such as http://127.0.0.1:8080", o.BaseURL)
	}
	if o.APIToken == "" {
		return errors.New("simulate: APIToken is required to check the orders")
	}
	switch {
	case o.Orders > sandbox.MaxOrders:
		return fmt.Errorf("simulate: Orders %d: want at most %d", o.Orders, sandbox.MaxOrders)
	case o.Shops > sandbox.MaxShops:
		return fmt.Errorf("simulate: Shops %d: want at most %d", o.Shops, sandbox.MaxShops)
	case !(o.TimeFactor >= 1 && o.TimeFactor <= MaxTimeFactor):
		return fmt.Errorf("simulate: TimeFactor %v: want 1 to %d", o.TimeFactor, MaxTimeFactor)
	}
	for name, r := range map[string]float64{"Duplicates": o.Duplicates, "Reorder": o.Reorder, "TrackingFirst": o.TrackingFirst, "Lost": o.Lost} {
		if !(r >= 0 && r <= 1) {
			return fmt.Errorf("simulate: %s %v: want a share in [0, 1]", name, r)
		}
	}
	if len(o.signing().platforms()) == 0 {
		return errors.New("simulate: no marketplace has the secrets to sign pushes (shopee push_key or partner_key and callback_url; lazada and tiktok app_key and app_secret)")
	}
	return nil
}

// signing returns the Options that carry o's secrets, to share their
// completeness rule.
func (o SandboxOptions) signing() Options {
	return Options{Shopee: o.Shopee, Lazada: o.Lazada, TikTok: o.TikTok}
}

// app returns the sandbox app of p holding the server's secrets. Shopee's
// partner id, when not configured, stays the sandbox's test value: no push
// carries it.
func (o SandboxOptions) app(p order.Platform) sandbox.App {
	app := sandbox.TestApp(p)
	switch p {
	case order.Shopee:
		if o.Shopee.PartnerID != "" {
			app.Key = o.Shopee.PartnerID
		}
		app.Secret, app.PushKey = o.Shopee.PartnerKey, o.Shopee.PushKey
	case order.Lazada:
		app.Key, app.Secret = o.Lazada.AppKey, o.Lazada.AppSecret
	case order.TikTok:
		app.Key, app.Secret = o.TikTok.AppKey, o.TikTok.AppSecret
	}
	return app
}

// SandboxReport is the outcome of RunSandbox. It marshals to JSON with
// snake_case names.
type SandboxReport struct {
	// Seed reproduces the sale and its delivery (SandboxOptions.Seed).
	Seed uint64 `json:"seed"`
	// Delivery is the sandbox's account of the pushes, per marketplace
	// (its Truth left out: Orders counts it).
	Delivery sandbox.Report `json:"delivery"`
	// Orders is how many orders the sale had; OrdersCorrect and
	// OrdersWrong split them by whether the query API finally showed the
	// ground truth: the unified status, and the detail when the order has
	// one (sandbox.Compare).
	Orders        int `json:"orders"`
	OrdersCorrect int `json:"orders_correct"`
	OrdersWrong   int `json:"orders_wrong"`
	// ApplyLagSeconds is the time from the end of the delivery until every
	// order was right; null when some were not within ApplyTimeout.
	ApplyLagSeconds *float64 `json:"apply_lag_seconds"`
	// Wrong lists up to 20 of the wrong orders, sorted by key; Note names
	// each difference.
	Wrong []WrongOrder `json:"wrong"`
}

// OK reports whether every order of the sale ended right.
func (r SandboxReport) OK() bool {
	return r.Orders > 0 && r.OrdersCorrect == r.Orders && r.OrdersWrong == 0
}

// RunSandbox drives the orderlane server at o.BaseURL with the marketplace
// sandbox instead of Run's generator: it generates a sale of the
// marketplaces whose secrets o holds, has the fakes render its pushes as
// each marketplace does (Lazada one push per order line, per-marketplace
// answer deadlines and retry schedules, duplicates, reordering, tracking
// before status) signed with the server's secrets, delivers them to
// /webhooks/{platform} on a clock o.TimeFactor times faster than real
// time, then polls the query API until every order shows its ground truth
// or o.ApplyTimeout passes. A SandboxReport with OK() false is not an
// error: RunSandbox returns an error for bad options, an API token the
// server refuses (ErrUnauthorized, checked before anything is delivered)
// or a done ctx, together with the report so far.
func RunSandbox(ctx context.Context, o SandboxOptions) (SandboxReport, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return SandboxReport{}, err
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64() | 1
	}
	rep := SandboxReport{Seed: seed, Wrong: []WrongOrder{}}

	pollClient, deliverClient := o.HTTPClient, o.HTTPClient
	if o.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = o.Concurrency
		defer tr.CloseIdleConnections()
		deliverClient = &http.Client{Transport: tr}
		pollClient = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	v := &verifier{client: pollClient, baseURL: o.BaseURL, token: o.APIToken, concurrency: o.Concurrency}
	// A refused token is found now, not after the whole sale.
	if _, err := v.get(ctx, order.Key{Platform: order.Shopee, ShopID: "0", OrderID: "simulate-token-check"}); err != nil {
		return rep, err
	}

	platforms := o.signing().platforms()
	spec := sandbox.Spec{Orders: o.Orders, ShopsPerPlatform: o.Shops, Platforms: platforms}
	clock, sale, script := sandbox.Replay(spec, seed, o.TimeFactor, time.Now())
	markets := map[order.Platform]sandbox.Marketplace{}
	for _, p := range platforms {
		sale.SetApp(p, o.app(p))
		switch p {
		case order.Shopee:
			markets[p] = shopeesim.New(sale, shopeesim.Config{CallbackURL: o.Shopee.CallbackURL})
		case order.Lazada:
			markets[p] = lazadasim.New(sale, lazadasim.Config{})
		case order.TikTok:
			markets[p] = tiktoksim.New(sale, tiktoksim.Config{})
		}
	}
	if o.Progress != nil {
		length := script.End.Sub(script.Start)
		fmt.Fprintf(o.Progress, "sandbox: %d orders, %d changes, %s of sale at x%g (about %s), seed %d\n",
			o.Orders, len(script.Steps), length.Round(time.Second), o.TimeFactor,
			clock.Wall(length).Round(100*time.Millisecond), seed)
	}
	webhook := func(p order.Platform) string { return o.BaseURL + "/webhooks/" + string(p) }
	delivery, err := sandbox.Deliver(ctx, script, markets, webhook, sandbox.DeliveryOptions{
		Clock: clock, Duplicates: o.Duplicates, Lost: o.Lost, Reorder: o.Reorder, TrackingFirst: o.TrackingFirst,
		Concurrency: o.Concurrency, Client: deliverClient, Log: o.Log,
		Rand: rand.New(rand.NewPCG(seed, 0x64656c69)),
	})
	truth := delivery.Truth
	delivery.Truth = nil
	rep.Delivery, rep.Orders = delivery, len(truth)
	if err != nil {
		return rep, err
	}
	deliverEnd := time.Now()
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "sandbox: delivered in %s; checking %d orders\n", delivery.Wall.Round(time.Millisecond), len(truth))
	}

	keys := make([]order.Key, len(truth))
	for i, e := range truth {
		keys[i] = e.Key
	}
	right := func(i int, ob observed) bool { return ob.found && len(mismatches(truth[i], ob)) == 0 }
	never := func(int) bool { return false }
	got, allRight, err := v.await(ctx, keys, right, never, deliverEnd.Add(o.ApplyTimeout))
	if !allRight.IsZero() {
		lag := seconds(allRight.Sub(deliverEnd))
		rep.ApplyLagSeconds = &lag
	}
	rep.tally(truth, got)
	return rep, err
}

// mismatches compares one order's observation with its ground truth.
func mismatches(e sandbox.ExpectedOrder, ob observed) []sandbox.Mismatch {
	var got []order.Order
	if ob.found {
		got = []order.Order{ob.order}
	}
	return sandbox.Compare([]sandbox.ExpectedOrder{e}, got)
}

// tally counts the orders right and wrong and keeps the first wrong ones.
func (r *SandboxReport) tally(truth []sandbox.ExpectedOrder, got []observed) {
	var wrong []WrongOrder
	for i, e := range truth {
		ms := mismatches(e, got[i])
		if got[i].found && len(ms) == 0 {
			r.OrdersCorrect++
			continue
		}
		r.OrdersWrong++
		note := got[i].note
		if got[i].found {
			parts := make([]string, len(ms))
			for j, m := range ms {
				parts[j] = fmt.Sprintf("%s: want %q, got %q", m.Field, m.Want, m.Got)
			}
			note = strings.Join(parts, "; ")
		}
		wrong = append(wrong, WrongOrder{
			Platform: string(e.Key.Platform), ShopID: e.Key.ShopID, OrderID: e.Key.OrderID,
			ExpectedStatus: string(e.Status), GotStatus: got[i].status,
			ExpectedPlatformStatus: e.PlatformStatus, GotPlatformStatus: got[i].platformStatus,
			Note: note,
		})
	}
	slices.SortFunc(wrong, func(a, b WrongOrder) int {
		return strings.Compare(a.Platform+"/"+a.ShopID+"/"+a.OrderID, b.Platform+"/"+b.ShopID+"/"+b.OrderID)
	})
	r.Wrong = append(r.Wrong, wrong[:min(len(wrong), maxWrong)]...)
}

// WriteText writes r as a human-readable report: the sandbox's delivery
// per marketplace, then the orders right and wrong.
func (r SandboxReport) WriteText(w io.Writer) error {
	d := r.Delivery
	fmt.Fprintf(w, "seed %d  %s of sale at x%g in %s\n\n", r.Seed, d.End.Sub(d.Start).Round(time.Second),
		d.TimeFactor, d.Wall.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "platform\tchanges\tpushes\tduplicates\treordered\ttracking first\tlost\tattempts\tfailed\tretries\tgave up\t")
	for _, p := range d.Platforms {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", p.Platform, p.Changes, p.Pushes, p.Duplicates,
			p.Reordered, p.TrackingFirst, p.Lost, p.Attempts, p.Failed, p.Retries, p.GaveUp)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("\norders\t%d\n", r.Orders)
	p("orders correct\t%d\n", r.OrdersCorrect)
	p("orders wrong\t%d\n", r.OrdersWrong)
	if r.ApplyLagSeconds != nil {
		p("apply lag\t%.2f s\n", *r.ApplyLagSeconds)
	} else {
		p("apply lag\tnot every order was right in time\n")
	}
	if r.OK() {
		p("result\tOK\n")
	} else {
		p("result\tFAILED\n")
	}
	if len(r.Wrong) > 0 {
		p("\nwrong orders (%d of %d):\n", len(r.Wrong), r.OrdersWrong)
		p("platform\tshop_id\torder_id\texpected\tgot\tnote\n")
		for _, o := range r.Wrong {
			p("%s\t%s\t%s\t%s (%s)\t%s (%s)\t%s\n", o.Platform, o.ShopID, o.OrderID,
				o.ExpectedStatus, o.ExpectedPlatformStatus, orDash(o.GotStatus), orDash(o.GotPlatformStatus), o.Note)
		}
	}
	return tw.Flush()
}
