package shopee

import (
	"strings"

	"github.com/orderlane/orderlane/order"
)

// MapStatus maps a Shopee order status (UNPAID, READY_TO_SHIP, ...) onto
// the unified model, ignoring case. A status without a mapping, including
// "", returns order.StatusUnknown.
func MapStatus(raw string) order.Status {
	switch upper(raw) {
	case "UNPAID":
		return order.StatusUnpaid
	case "READY_TO_SHIP", "PROCESSED", "RETRY_SHIP":
		return order.StatusReadyToShip
	case "SHIPPED":
		return order.StatusShipped
	case "TO_CONFIRM_RECEIVE":
		return order.StatusDelivered
	case "COMPLETED":
		return order.StatusCompleted
	case "IN_CANCEL":
		return order.StatusCancelRequested
	case "CANCELLED":
		return order.StatusCancelled
	case "TO_RETURN":
		return order.StatusReturnRequested
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
