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
//
// The package also speaks the Lazada Open Platform API (Client): the
// token APIs on auth.lazada.com, and the order APIs on the shop's
// regional host (/order/get, /orders/items/get, /order/items/get,
// /orders/get), every request signed by SignAPI. Lazada answers errors
// with HTTP 200 and an envelope {"code","type","message","request_id"};
// the client maps them onto *marketplace.APIError. Lazada returns one item
// row per unit: the client aggregates them by SKU and line status into
// order.Detail items, and derives one order status from the lines'
// statuses with OrderStatus.
package lazada
