package shopee

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

// addFixtures seeds f with every recorded response and a few odd shapes.
func addFixtures(f *testing.F) {
	names, _ := filepath.Glob("testdata/api_*.json")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `{"error":""}`, `{"error":"","response":null}`,
		`{"error":"","response":{"order_list":[{"order_sn":"A","item_list":[{"model_quantity_purchased":1e9}]}]}}`,
		`{"error":"","response":{"order_list":[{"order_sn":"A","total_amount":1.000000000000000000001}]}}`,
		`{"error":"","response":{"push_message_list":[{"code":3,"data":"not json"}],"last_message_id":1}}`,
		`{"error":"","response":{"more":true,"next_cursor":"x","order_list":[{"order_sn":""}]}}`,
	} {
		f.Add([]byte(s))
	}
}

// decodeErrorOK reports whether err is one a decoder may return.
func decodeErrorOK(err error) bool {
	var apiErr *marketplace.APIError
	return err == nil || errors.Is(err, ErrMalformedResponse) || errors.As(err, &apiErr)
}

// FuzzDecodeOrderDetail checks that the detail decoder never panics,
// fails only with its documented errors, and returns only exact amounts
// and bounded content.
func FuzzDecodeOrderDetail(f *testing.F) {
	addFixtures(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeOrderDetail(body, time.Time{})
		if !decodeErrorOK(err) {
			t.Fatalf("unexpected error type: %v", err)
		}
		if err != nil {
			return
		}
		for id, d := range got {
			if id == "" || len(id) > maxIDLen || len(d.Items) > maxItemsPerOrder || len(d.Packages) > maxPackagesPerOrder {
				t.Fatalf("unbounded order %q: %+v", id, d)
			}
			for _, a := range []order.Amount{d.Total, d.ShippingFee} {
				checkAmount(t, a)
			}
			for _, it := range d.Items {
				checkAmount(t, it.UnitPrice)
				checkAmount(t, it.PaidPrice)
				if it.Quantity < 0 {
					t.Fatalf("negative quantity: %+v", it)
				}
			}
		}
	})
}

// checkAmount fails unless a is "" or canonical.
func checkAmount(t *testing.T, a order.Amount) {
	t.Helper()
	if a == "" {
		return
	}
	if c, err := order.ParseAmount(string(a)); err != nil || c != a {
		t.Fatalf("amount %q is not canonical (%q, %v)", a, c, err)
	}
}

// FuzzDecodeOrderList checks the list decoder: no panic, documented
// errors, and never "more" without a cursor to follow.
func FuzzDecodeOrderList(f *testing.F) {
	addFixtures(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeOrderList(body)
		if !decodeErrorOK(err) {
			t.Fatalf("unexpected error type: %v", err)
		}
		if err == nil && (p.more && p.next == "" || len(p.next) > maxCursorLen || len(p.orders) > maxOrdersPerResponse) {
			t.Fatalf("bad page: %+v", p)
		}
	})
}

// FuzzDecodePackageDetail checks the package decoder.
func FuzzDecodePackageDetail(f *testing.F) {
	addFixtures(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodePackageDetail(body)
		if !decodeErrorOK(err) {
			t.Fatalf("unexpected error type: %v", err)
		}
		for k, p := range got {
			if k == "" || k != p.ID {
				t.Fatalf("package keyed %q: %+v", k, p)
			}
		}
	})
}

// FuzzDecodeToken checks the token decoder: a token it returns is usable.
func FuzzDecodeToken(f *testing.F) {
	addFixtures(f)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := decodeToken(body, now)
		if !decodeErrorOK(err) {
			t.Fatalf("unexpected error type: %v", err)
		}
		if err == nil && (tok.AccessToken == "" || tok.RefreshToken == "" || !tok.AccessExpiresAt.After(now)) {
			t.Fatalf("unusable token: %+v", tok)
		}
	})
}

// FuzzDecodeLostPushes checks the lost-push decoder, and that every push
// it returns rebuilds a body Parse either accepts or refuses with
// ErrMalformed (never a panic).
func FuzzDecodeLostPushes(f *testing.F) {
	addFixtures(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := decodeLostPushes(body)
		if !decodeErrorOK(err) {
			t.Fatalf("unexpected error type: %v", err)
		}
		for _, p := range page.Pushes {
			if _, err := Parse(p.Body(), receivedAt); err != nil && !errors.Is(err, marketplace.ErrMalformed) {
				t.Fatalf("Parse(Body()) = %v", err)
			}
		}
	})
}
