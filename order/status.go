package order

// Status is the unified order status shared by every marketplace.
type Status string

// Unified statuses. Each marketplace package maps its own raw statuses onto
// these; a raw status without a mapping becomes StatusUnknown and is kept raw
// in PlatformStatus.
const (
	StatusUnpaid          Status = "unpaid"
	StatusOnHold          Status = "on_hold"
	StatusReadyToShip     Status = "ready_to_ship"
	StatusShipped         Status = "shipped"
	StatusDelivered       Status = "delivered"
	StatusFailedDelivery  Status = "failed_delivery"
	StatusCompleted       Status = "completed"
	StatusCancelRequested Status = "cancel_requested"
	StatusCancelled       Status = "cancelled"
	StatusReturnRequested Status = "return_requested"
	StatusReturned        Status = "returned"
	StatusUnknown         Status = "unknown"
)

// Valid reports whether s is one of the unified statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusUnpaid, StatusOnHold, StatusReadyToShip, StatusShipped, StatusDelivered,
		StatusFailedDelivery, StatusCompleted, StatusCancelRequested, StatusCancelled,
		StatusReturnRequested, StatusReturned, StatusUnknown:
		return true
	}
	return false
}
