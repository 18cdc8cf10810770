// Package tiktok speaks TikTok Shop (API 202309) webhooks: it verifies their
// signatures over the raw body and decodes them into order.Event.
//
// A push is signed as lowercase hex HMAC-SHA256(appSecret, appKey + body).
// Parse maps webhook types 1 (order status), 3 (recipient address),
// 4 (package), 11 (cancellation) and 12 (return) onto order events; every
// other type (6 and 7 authorisation, product and other topics, types added
// later) becomes a notice, so that a new webhook type never makes deliveries
// fail. The push's shop_id is the shop id, not the API's shop_cipher.
//
// Client speaks the Open API (version 202309): tokens from the auth host
// (whose access_token_expire_in is a Unix time, not a duration), the shop's
// cipher from /authorization/202309/shops, Get Order Detail (one line item
// per unit, aggregated into quantities) and Search Orders. Every request is
// signed with SignAPI and carries the token in the x-tts-access-token
// header.
package tiktok
