// Package tiktok speaks TikTok Shop (API 202309) webhooks: it verifies their
// signatures over the raw body and decodes them into order.Event.
//
// A push is signed as lowercase hex HMAC-SHA256(appSecret, appKey + body).
// Parse maps webhook types 1 (order status), 3 (recipient address),
// 4 (package), 11 (cancellation) and 12 (return) onto order events; every
// other type (6 and 7 authorisation, product and other topics, types added
// later) becomes a notice, so that a new webhook type never makes deliveries
// fail. The push's shop_id is the shop id, not the API's shop_cipher.
package tiktok
