package lazada

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/orderlane/orderlane/order"
)

// Fuzz targets for every decoder of Lazada API answers: none may panic,
// every failure wraps ErrBadResponse, and what they accept keeps the
// guarantees the rest of orderlane relies on (bounded, valid ids and
// amounts, quantities adding up to the rows).

func FuzzDecodeEnvelope(f *testing.F) {
	for _, name := range []string{"api_order_get.json", "api_error_token.json", "api_token_create.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"code":6}`))
	f.Add([]byte(`{"code":{}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, ok, err := decodeEnvelope(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if len(env.Code.Raw) == 0 || ok != (string(env.Code.Raw) == "0") {
			t.Fatalf("code %q, ok %v", env.Code.Raw, ok)
		}
		if ok {
			return
		}
		ae := apiError(200, env)
		if ae.Code != string(env.Code.Raw) || ae.Error() == "" {
			t.Fatalf("APIError %+v", ae)
		}
	})
}

func FuzzDecodeToken(f *testing.F) {
	f.Add(fixture(f, "api_token_create.json"))
	f.Add([]byte(`{"access_token":"a","refresh_token":"r","expires_in":1e3}`))
	f.Add([]byte(`{"access_token":"a","refresh_token":"r","expires_in":"9999999999999999999"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		g, err := decodeToken(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if g.access == "" || g.refresh == "" || len(g.access) > 512 || g.accessTTL <= 0 || g.accessTTL > maxTTL || g.refreshTTL > maxTTL {
			t.Fatalf("grant %+v", g)
		}
		for _, s := range g.sellers {
			if strings.Contains(s.sellerID, ":") || len(s.sellerID) > 128 {
				t.Fatalf("seller id %q", s.sellerID)
			}
		}
	})
}

// FuzzBuildDetail decodes an /order/get data and an /order/items/get data
// and builds the detail.
func FuzzBuildDetail(f *testing.F) {
	f.Add(fixtureData(f, "api_order_get.json"), fixtureData(f, "api_order_items_get.json"))
	f.Add([]byte(`{"order_id":"260422900198363","shipping_fee":"1,000.5","statuses":["x"]}`), []byte(`[]`))
	f.Add([]byte(`{"order_id":260422900198363,"created_at":"2026-01-02T03:04:05Z"}`),
		[]byte(`[{"order_id":"260422900198363","order_item_id":1,"sku":"a","paid_price":1,"status":"shipped"},`+
			`{"order_id":"260422900198363","order_item_id":2,"sku":"a","paid_price":"2.5","status":"canceled"}]`))
	f.Fuzz(func(t *testing.T, header, items []byte) {
		const id = "260422900198363"
		h, err := decodeOrderHeader(header, id)
		if err != nil {
			checkBad(t, err)
			return
		}
		rows, err := decodeItems(items)
		if err != nil {
			checkBad(t, err)
			return
		}
		d, err := buildDetail(id, h, rows, apiNow)
		if err != nil {
			checkBad(t, err)
			return
		}
		units := 0
		sum := d.ShippingFee
		if sum == "" {
			sum = "0"
		}
		for _, it := range d.Items {
			if it.Quantity < 1 || it.PaidPrice == "" || !utf8.ValidString(it.SKU) || len(it.Status) > 128 {
				t.Fatalf("item %+v", it)
			}
			mustAmount(t, it.PaidPrice)
			if it.UnitPrice != "" {
				mustAmount(t, it.UnitPrice)
			}
			units += it.Quantity
		}
		if units != len(rows) || len(d.Items) > maxLines {
			t.Fatalf("%d units in items from %d rows", units, len(rows))
		}
		if len(rows) == 0 && d.Total != sum {
			t.Fatalf("total %q without rows, shipping %q", d.Total, sum)
		}
		mustAmount(t, d.Total)
		if !d.FetchedAt.Equal(apiNow) {
			t.Fatal("FetchedAt")
		}
	})
}

func FuzzDecodeMultiItems(f *testing.F) {
	f.Add(fixtureData(f, "api_orders_items_get.json"))
	f.Add([]byte(`[{"order_id":"1","order_items":null},{"order_id":1,"order_items":[{}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMultiItems(data)
		if err != nil {
			checkBad(t, err)
			return
		}
		for id, rows := range m {
			if id == "" || strings.Contains(id, ":") || len(rows) > maxLines {
				t.Fatalf("order %q with %d rows", id, len(rows))
			}
		}
	})
}

func FuzzDecodeList(f *testing.F) {
	f.Add(fixtureData(f, "api_orders_get.json"))
	f.Add([]byte(`{"countTotal":"x","orders":[]}`))
	f.Add([]byte(`{"orders":[{"order_id":1,"updated_at":"2026-02-10 09:00:05 +0800","statuses":["a","b"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		refs, _, err := decodeList(data)
		if err != nil {
			checkBad(t, err)
			return
		}
		for _, r := range refs {
			if r.id == "" || strings.Contains(r.id, ":") || len(r.id) > 128 || len(r.status) > 128 {
				t.Fatalf("ref %+v", r)
			}
		}
	})
}

func checkBad(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrBadResponse) {
		t.Fatalf("error %v does not wrap ErrBadResponse", err)
	}
}

func mustAmount(t *testing.T, a order.Amount) {
	t.Helper()
	if b, err := order.ParseAmount(string(a)); err != nil || b != a {
		t.Fatalf("amount %q is not canonical: %v", a, err)
	}
}
