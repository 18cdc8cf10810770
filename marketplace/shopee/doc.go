// Package shopee speaks Shopee Open Platform v2 pushes: it verifies their
// signatures over the raw body and decodes them into order.Event.
//
// A push is signed as lowercase hex HMAC-SHA256(key, callbackURL + "|" +
// body), where callbackURL is the URL registered in the console (never one
// rebuilt from the request) and key is the "live push partner key", with the
// API partner key accepted as a fallback. Parse maps the push codes onto
// event kinds: 3 order status, 4 tracking number, 15 shipping document,
// 29 return, 30 package; every other code (0 console verification, 1, 2 and
// 12 partner-level, and codes added later) becomes a notice, so that a new
// push type never makes deliveries fail.
package shopee
