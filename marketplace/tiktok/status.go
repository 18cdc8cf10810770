package tiktok

import (
	"strings"

	"github.com/orderlane/orderlane/order"
)

// MapStatus maps a TikTok Shop order status onto the unified model,
// ignoring case. Both the webhook's CANCEL and the API's CANCELLED mean
// cancelled, and the API's PARTIALLY_SHIPPING counts as shipped. A status
// without a mapping, including "", returns order.StatusUnknown.
func MapStatus(raw string) order.Status {
	switch upper(raw) {
	case "UNPAID":
		return order.StatusUnpaid
	case "ON_HOLD":
		return order.StatusOnHold
	case "AWAITING_SHIPMENT", "AWAITING_COLLECTION":
		return order.StatusReadyToShip
	case "PARTIALLY_SHIPPING", "IN_TRANSIT":
		return order.StatusShipped
	case "DELIVERED":
		return order.StatusDelivered
	case "COMPLETED":
		return order.StatusCompleted
	case "CANCEL", "CANCELLED":
		return order.StatusCancelled
	}
	return order.StatusUnknown
}

// upper upper-cases ASCII letters, allocating only when s has lower case.
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return strings.ToUpper(s)
		}
	}
	return s
}
