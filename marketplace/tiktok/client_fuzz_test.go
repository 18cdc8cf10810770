package tiktok

import (
	"errors"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

// maxFuzzBody bounds fuzz inputs (the real bound is apiwire's MaxBody).
const maxFuzzBody = 1 << 16

// checkAmount fails unless a is absent or a canonical decimal.
func checkAmount(t *testing.T, field string, a order.Amount) {
	t.Helper()
	if a == "" {
		return
	}
	if c, err := order.ParseAmount(string(a)); err != nil || c != a {
		t.Fatalf("%s = %q is not a canonical amount (%v)", field, a, err)
	}
}

// FuzzDecodeDetails: never panics, fails only with ErrBadResponse, and
// what it returns is sane: one id per detail, canonical amounts, items of
// positive quantity adding up to at most the line items sent.
func FuzzDecodeDetails(f *testing.F) {
	f.Add(fixtureData(f, "api_order_detail.json"))
	f.Add(fixtureData(f, "api_order_search.json"))
	f.Add([]byte(`{"orders":[{"id":1,"payment":{"total_amount":12.5},"line_items":[{"sku_id":1},{"sku_id":"1"},{"seller_sku":"a"}],"packages":[{"id":"p"},{"id":"p"}]}]}`))
	f.Add([]byte(`{"orders":[{"id":"1","recipient_address":{"district_info":[{"address_level":"L3"}]}}]}`))
	f.Add([]byte(`{"orders":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzBody {
			return
		}
		details, ids, err := decodeDetails(data, time.Time{})
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if len(details) != len(ids) {
			t.Fatalf("%d details for %d ids", len(details), len(ids))
		}
		for i, d := range details {
			if ids[i] == "" {
				t.Fatal("empty order id")
			}
			checkAmount(t, "total", d.Total)
			checkAmount(t, "shipping_fee", d.ShippingFee)
			units := 0
			for _, it := range d.Items {
				if it.Quantity < 1 {
					t.Fatalf("item %+v has quantity < 1", it)
				}
				units += it.Quantity
				checkAmount(t, "unit_price", it.UnitPrice)
				checkAmount(t, "paid_price", it.PaidPrice)
			}
			if units > maxLineItems {
				t.Fatalf("%d units", units)
			}
		}
	})
}

// FuzzDecodePage: never panics, fails only with ErrBadResponse, and every
// order it lists has an id.
func FuzzDecodePage(f *testing.F) {
	f.Add(fixtureData(f, "api_order_search.json"))
	f.Add([]byte(`{"orders":[{"id":"1","update_time":"1"}],"next_page_token":"a b"}`))
	f.Add([]byte(`{"orders":[{"id":"1","update_time":1e3,"status":"\u0085"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzBody {
			return
		}
		page, err := decodePage(data)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if len(page.Cursor) > maxCursor {
			t.Fatalf("cursor of %d bytes", len(page.Cursor))
		}
		for _, o := range page.Orders {
			if o.OrderID == "" {
				t.Fatal("order without an id")
			}
		}
	})
}

// FuzzDecodeToken: never panics, fails only with ErrBadResponse, and a
// token it returns is complete and fit for a header.
func FuzzDecodeToken(f *testing.F) {
	f.Add(fixtureData(f, "api_token_get.json"))
	f.Add([]byte(`{"access_token":"a","refresh_token":"r","access_token_expire_in":"1722342011","refresh_token_expire_in":null}`))
	f.Add([]byte(`{"access_token":"a","refresh_token":"r","access_token_expire_in":1722342011000}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzBody {
			return
		}
		tok, err := decodeToken(data)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if !tokenText(tok.AccessToken) || !tokenText(tok.RefreshToken) || tok.AccessToken == "" || tok.AccessExpiresAt.IsZero() {
			t.Fatalf("token %+v is incomplete or unfit for a header", tok)
		}
	})
}

// FuzzDecodeShops: never panics, fails only with ErrBadResponse.
func FuzzDecodeShops(f *testing.F) {
	f.Add(fixtureData(f, "api_shops.json"))
	f.Add([]byte(`{"shops":[{"id":7000714532876273420,"cipher":"c\u0000"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzBody {
			return
		}
		if _, err := decodeShops(data); err != nil && !errors.Is(err, ErrBadResponse) {
			t.Fatalf("error %v does not wrap ErrBadResponse", err)
		}
	})
}

// FuzzCheckAnswer: never panics; an answer is accepted only with a 2xx
// status and code 0, and every refusal is an *APIError with a known Kind
// or ErrBadResponse, with a bounded message.
func FuzzCheckAnswer(f *testing.F) {
	for _, name := range []string{"api_error_sign.json", "api_error_expired.json", "api_error_rate.json", "api_shops.json"} {
		f.Add(200, fixture(f, name))
		f.Add(401, fixture(f, name))
	}
	f.Add(429, []byte(``))
	f.Add(502, []byte(`<html>`))
	f.Add(200, []byte(`{"code":"36009004","message":"access_token"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		env, err := checkAnswer(status, body)
		if err == nil {
			if status < 200 || status > 299 || env.Code.Value != 0 {
				t.Fatalf("accepted status %d code %d", status, env.Code.Value)
			}
			return
		}
		var ae *marketplace.APIError
		switch {
		case errors.As(err, &ae):
			if len(ae.Message) > maxMessage*3 || len(ae.RequestID) > maxMessage*3 {
				t.Fatalf("unbounded message of %d bytes", len(ae.Message))
			}
			switch ae.Kind {
			case nil, marketplace.ErrAuth, marketplace.ErrRateLimited, marketplace.ErrTemporary:
			default:
				t.Fatalf("unknown kind %v", ae.Kind)
			}
		case !errors.Is(err, ErrBadResponse):
			t.Fatalf("error %v is neither an APIError nor ErrBadResponse", err)
		}
	})
}
