package lazada

import (
	"testing"

	"github.com/orderlane/orderlane/order"
)

func TestMapStatus(t *testing.T) {
	t.Parallel()
	tests := map[string]order.Status{
		"unpaid":          order.StatusUnpaid,
		"pending":         order.StatusReadyToShip,
		"packed":          order.StatusReadyToShip,
		"repacked":        order.StatusReadyToShip,
		"topack":          order.StatusReadyToShip,
		"toship":          order.StatusReadyToShip,
		"ready_to_ship":   order.StatusReadyToShip,
		"shipped":         order.StatusShipped,
		"delivered":       order.StatusDelivered,
		"failed_delivery": order.StatusFailedDelivery,
		"canceled":        order.StatusCancelled,
		"returned":        order.StatusReturned,
		"UNPAID":          order.StatusUnpaid,
		"Ready_To_Ship":   order.StatusReadyToShip,
		"shipped_back":    order.StatusUnknown,
		"lost_by_3pl":     order.StatusUnknown,
		"damaged_by_3pl":  order.StatusUnknown,
		"CANCEL_INIT":     order.StatusUnknown,
		"":                order.StatusUnknown,
		"shipped ":        order.StatusUnknown,
	}
	for raw, want := range tests {
		if got := MapStatus(raw); got != want || !got.Valid() {
			t.Errorf("MapStatus(%q) = %q, want %q", raw, got, want)
		}
	}
}
