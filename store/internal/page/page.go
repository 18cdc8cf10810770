// Package page is what both order stores share to page through
// order.Repository.List: the page size a filter asks for, and the opaque
// keyset cursor (the last order's UpdatedAt and identity).
package page

import (
	"encoding/base64"
	"encoding/json"

	"github.com/orderlane/orderlane/order"
)

// Limit is f's page size: 100 by default, at most 1000.
func Limit(f order.Filter) int {
	if f.Limit <= 0 {
		return 100
	}
	return min(f.Limit, 1000)
}

// Cursor is the position after which a page continues.
type Cursor struct {
	UpdatedAt int64  `json:"u"` // Unix nanoseconds
	Platform  string `json:"p"`
	ShopID    string `json:"s"`
	OrderID   string `json:"o"`
}

// Encode is the cursor that continues after o.
func Encode(o order.Order) string {
	var at int64
	if !o.UpdatedAt.IsZero() {
		at = o.UpdatedAt.UnixNano()
	}
	b, _ := json.Marshal(Cursor{at, string(o.Platform), o.ShopID, o.OrderID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads a cursor Encode made, or fails with order.ErrBadCursor.
func Decode(s string) (Cursor, error) {
	var c Cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil {
		return c, order.ErrBadCursor
	}
	return c, nil
}

// Cut trims orders, fetched with a limit of limit+1, to a page of limit
// and, when there was more, sets the cursor that continues after it.
func Cut(orders []order.Order, limit int) order.Page {
	if len(orders) <= limit {
		return order.Page{Orders: orders}
	}
	orders = orders[:limit]
	return order.Page{Orders: orders, NextCursor: Encode(orders[limit-1])}
}
