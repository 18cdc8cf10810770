package simulate

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/order"
)

// Options configures Run. The zero value of every field but BaseURL,
// APIToken and the marketplace secrets has a documented default.
type Options struct {
	// BaseURL is the orderlane server, e.g. "http://127.0.0.1:8080"
	// (config.Config.BaseURL gives it for a local server). Required.
	BaseURL string
	// APIToken authorises the query API used to check the orders
	// (config.Config.APIToken). Required.
	APIToken string

	// Shopee, Lazada and TikTok hold the secrets the pushes are signed with,
	// as the server reads them from the same configuration. A marketplace
	// whose secrets are incomplete (see config.Config.Missing) is skipped.
	// Shopee pushes are signed over Shopee.CallbackURL exactly, with
	// Shopee.PushKey, else Shopee.PartnerKey.
	Shopee config.Shopee
	Lazada config.Lazada
	TikTok config.TikTok

	// Orders is how many orders to simulate, spread evenly over the
	// marketplaces that are not skipped. Defaults to 300.
	Orders int
	// Shops is how many shops each marketplace's orders belong to.
	// Defaults to 5.
	Shops int
	// Concurrency is how many HTTP senders (and, afterwards, pollers) run in
	// parallel. Each sender delivers one order's pushes at a time, in
	// sequence. Defaults to 32.
	Concurrency int
	// DuplicateRatio is the share of pushes delivered twice, byte for byte
	// (same signature), either right after the first delivery or later in
	// the order's sequence. Defaults to 0.1; a negative value disables
	// duplicates.
	DuplicateRatio float64
	// ShuffleRatio is the share of orders whose pushes are delivered out of
	// order (one or two swaps of adjacent pushes). Defaults to 0.2; a
	// negative value disables shuffling.
	ShuffleRatio float64
	// Seed makes the run's decisions reproducible; 0 picks a random seed,
	// which the Report names.
	Seed uint64
	// ApplyTimeout bounds the wait, after the last push was acknowledged,
	// for every order to show its final state. Defaults to 60s.
	ApplyTimeout time.Duration
	// Progress, if not nil, receives a live progress line rewritten with
	// "\r" about four times a second and ended with "\n".
	Progress io.Writer
	// Rate, when positive, runs the send phase open loop: deliveries are
	// scheduled at Rate per second whatever the server's speed, and each
	// ack latency is measured from the delivery's intended send time, so
	// queueing is not hidden (no coordinated omission). One order's
	// deliveries still go in sequence. Zero (the default) runs closed loop:
	// Concurrency senders, each sending as fast as it is answered.
	Rate float64
	// SendOnly skips the checks after the send phase (for measuring a bare
	// HTTP sink). APIToken is then not needed.
	SendOnly bool
	// CheckEvents is how many orders (a spread sample) get their event
	// history read after the run, to measure the time from acceptance to
	// application and to check that every order's events were applied in
	// the order they were acknowledged. Defaults to 1000; negative: none.
	CheckEvents int
	// HTTPClient sends the pushes and the queries. Defaults to a client with
	// keep-alive, MaxIdleConnsPerHost = Concurrency and a 10s timeout per
	// request.
	HTTPClient *http.Client
}

// Option defaults.
const (
	DefaultOrders         = 300
	DefaultShops          = 5
	DefaultConcurrency    = 32
	DefaultDuplicateRatio = 0.1
	DefaultShuffleRatio   = 0.2
	DefaultApplyTimeout   = 60 * time.Second
	DefaultCheckEvents    = 1000
)

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Orders <= 0 {
		o.Orders = DefaultOrders
	}
	if o.Shops <= 0 {
		o.Shops = DefaultShops
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	switch {
	case o.DuplicateRatio == 0:
		o.DuplicateRatio = DefaultDuplicateRatio
	case o.DuplicateRatio < 0:
		o.DuplicateRatio = 0
	}
	switch {
	case o.ShuffleRatio == 0:
		o.ShuffleRatio = DefaultShuffleRatio
	case o.ShuffleRatio < 0:
		o.ShuffleRatio = 0
	}
	if o.ApplyTimeout <= 0 {
		o.ApplyTimeout = DefaultApplyTimeout
	}
	if o.CheckEvents == 0 {
		o.CheckEvents = DefaultCheckEvents
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return o
}

// validate names the first bad option.
func (o Options) validate() error {
	if o.BaseURL == "" {
		return errors.New("simulate: BaseURL is required")
	}
	if u, err := url.Parse(o.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("simulate: BaseURL %q: want an http(s) URL such as http://127.0.0.1:8080", o.BaseURL)
	}
	if o.APIToken == "" && !o.SendOnly {
		return errors.New("simulate: APIToken is required to check the orders")
	}
	if o.Rate < 0 {
		return fmt.Errorf("simulate: Rate %v: want 0 (closed loop) or a positive rate", o.Rate)
	}
	if o.DuplicateRatio > 1 {
		return fmt.Errorf("simulate: DuplicateRatio %v: want at most 1", o.DuplicateRatio)
	}
	if o.ShuffleRatio > 1 {
		return fmt.Errorf("simulate: ShuffleRatio %v: want at most 1", o.ShuffleRatio)
	}
	if len(o.platforms()) == 0 {
		return errors.New("simulate: no marketplace has the secrets to sign pushes (shopee push_key or partner_key and callback_url; lazada and tiktok app_key and app_secret)")
	}
	return nil
}

// platforms lists the marketplaces whose secrets are complete, in
// order.Platforms order.
func (o Options) platforms() []order.Platform {
	var out []order.Platform
	if (o.Shopee.PushKey != "" || o.Shopee.PartnerKey != "") && o.Shopee.CallbackURL != "" {
		out = append(out, order.Shopee)
	}
	if o.Lazada.AppKey != "" && o.Lazada.AppSecret != "" {
		out = append(out, order.Lazada)
	}
	if o.TikTok.AppKey != "" && o.TikTok.AppSecret != "" {
		out = append(out, order.TikTok)
	}
	return out
}

// shopeeKey is the key Shopee signs pushes with: the live push partner key,
// else the API partner key.
func (o Options) shopeeKey() []byte {
	if o.Shopee.PushKey != "" {
		return []byte(o.Shopee.PushKey)
	}
	return []byte(o.Shopee.PartnerKey)
}

// client returns the HTTP client to use and whether Run created it.
func (o Options) client() (*http.Client, bool) {
	if o.HTTPClient != nil {
		return o.HTTPClient, false
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	conns := o.Concurrency
	if o.Rate > 0 {
		conns = maxOpenInFlight
	}
	tr.MaxIdleConns = max(conns, tr.MaxIdleConns)
	tr.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, true
}
