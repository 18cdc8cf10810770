package lazada

import (
	"strings"

	"github.com/orderlane/orderlane/order"
)

// MapStatus maps a Lazada order (item) status (unpaid, pending, ...) onto
// the unified model, ignoring case. A status without a mapping, including
// "" and shipped_back, lost_by_3pl or damaged_by_3pl, returns
// order.StatusUnknown. Reverse statuses (CANCEL_INIT, RTM_INIT, ...) are not
// order statuses: Parse does not map them.
func MapStatus(raw string) order.Status {
	switch lower(raw) {
	case "unpaid":
		return order.StatusUnpaid
	case "pending", "packed", "repacked", "topack", "toship", "ready_to_ship":
		return order.StatusReadyToShip
	case "shipped":
		return order.StatusShipped
	case "delivered":
		return order.StatusDelivered
	case "failed_delivery":
		return order.StatusFailedDelivery
	case "canceled":
		return order.StatusCancelled
	case "returned":
		return order.StatusReturned
	}
	return order.StatusUnknown
}

// lower lower-cases ASCII letters, allocating only when s has upper case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// hasPrefixFold reports whether s starts with the upper-case ASCII prefix,
// ignoring case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
