package shopee

import (
	"testing"

	"github.com/orderlane/orderlane/order"
)

func TestMapStatus(t *testing.T) {
	t.Parallel()
	tests := map[string]order.Status{
		"UNPAID":             order.StatusUnpaid,
		"READY_TO_SHIP":      order.StatusReadyToShip,
		"PROCESSED":          order.StatusReadyToShip,
		"RETRY_SHIP":         order.StatusReadyToShip,
		"SHIPPED":            order.StatusShipped,
		"TO_CONFIRM_RECEIVE": order.StatusDelivered,
		"COMPLETED":          order.StatusCompleted,
		"IN_CANCEL":          order.StatusCancelRequested,
		"CANCELLED":          order.StatusCancelled,
		"TO_RETURN":          order.StatusReturnRequested,
		"ready_to_ship":      order.StatusReadyToShip,
		"Shipped":            order.StatusShipped,
		"INVOICE_PENDING":    order.StatusUnknown,
		"PENDING":            order.StatusUnknown,
		"CANCELED":           order.StatusUnknown,
		"":                   order.StatusUnknown,
		" SHIPPED":           order.StatusUnknown,
	}
	for raw, want := range tests {
		if got := MapStatus(raw); got != want {
			t.Errorf("MapStatus(%q) = %q, want %q", raw, got, want)
		}
		if !MapStatus(raw).Valid() {
			t.Errorf("MapStatus(%q) = %q is not a valid status", raw, MapStatus(raw))
		}
	}
}
