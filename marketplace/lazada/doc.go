// Package lazada speaks Lazada Open Platform pushes (message service): it
// verifies their signatures over the raw body and decodes them into
// order.Event.
//
// A push is signed as lowercase hex HMAC-SHA256(appSecret, appKey + body).
// Parse maps message_type 0 (trade order: one push per order line) onto
// order status events and message_type 10 (reverse order) onto cancellation
// or return events; every other message type (8 authorisation expiry,
// product, stock, and types added later) becomes a notice, so that a new
// message type never makes deliveries fail. Lazada sends ids as strings in
// some messages and as numbers in others, and timestamps in seconds or
// milliseconds: Parse accepts both and keeps ids digit for digit.
package lazada
