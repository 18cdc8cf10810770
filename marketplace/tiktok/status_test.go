package tiktok

import (
	"testing"

	"github.com/orderlane/orderlane/order"
)

func TestMapStatus(t *testing.T) {
	t.Parallel()
	tests := map[string]order.Status{
		"UNPAID":                       order.StatusUnpaid,
		"ON_HOLD":                      order.StatusOnHold,
		"AWAITING_SHIPMENT":            order.StatusReadyToShip,
		"AWAITING_COLLECTION":          order.StatusReadyToShip,
		"PARTIALLY_SHIPPING":           order.StatusShipped,
		"IN_TRANSIT":                   order.StatusShipped,
		"DELIVERED":                    order.StatusDelivered,
		"COMPLETED":                    order.StatusCompleted,
		"CANCEL":                       order.StatusCancelled,
		"CANCELLED":                    order.StatusCancelled,
		"in_transit":                   order.StatusShipped,
		"Cancel":                       order.StatusCancelled,
		"CANCELLATION_REQUEST_PENDING": order.StatusUnknown,
		"AWAITING":                     order.StatusUnknown,
		"":                             order.StatusUnknown,
	}
	for raw, want := range tests {
		if got := MapStatus(raw); got != want || !got.Valid() {
			t.Errorf("MapStatus(%q) = %q, want %q", raw, got, want)
		}
	}
}
