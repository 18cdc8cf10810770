package connect

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orderlane/orderlane/marketplace/shopee"
)

// Production hosts of the marketplaces' authorisation pages.
const (
	ShopeeAuthHost = shopee.ProductionURL
	LazadaAuthHost = "https://auth.lazada.com"
	TikTokAuthHost = "https://auth.tiktok-shops.com"
)

// Paths of the authorisation pages.
const (
	ShopeeAuthPath = "/api/v2/shop/auth_partner"
	LazadaAuthPath = "/oauth/authorize"
	TikTokAuthPath = "/oauth/authorize"
)

// ShopeeAuthURL is Shopee's authorisation link: GET
// {host}/api/v2/shop/auth_partner with partner_id, timestamp, redirect
// and sign = hex HMAC-SHA256(partner key, partner_id + path + timestamp)
// (the public-API signature). The link is valid for 5 minutes from now.
// Shopee has no state parameter: it appends code and shop_id to redirect,
// so the state goes inside redirect's own query.
func ShopeeAuthURL(host, partnerID, partnerKey, redirect string, now time.Time) string {
	ts := now.Unix()
	q := url.Values{
		"partner_id": {partnerID},
		"timestamp":  {strconv.FormatInt(ts, 10)},
		"sign":       {shopee.SignAPI(partnerKey, partnerID, ShopeeAuthPath, ts, "", "")},
		"redirect":   {redirect},
	}
	return origin(host, ShopeeAuthHost) + ShopeeAuthPath + "?" + q.Encode()
}

// LazadaAuthURL is Lazada's authorisation link: GET
// {host}/oauth/authorize?response_type=code&force_auth=true&client_id=
// {app key}&redirect_uri={callback}&state={state}. redirect must be the
// callback URL registered in the Lazada console; Lazada returns code and
// state to it. host may be the token API host (".../rest"): only its
// scheme and host are used.
func LazadaAuthURL(host, appKey, redirect, state string) string {
	q := url.Values{
		"response_type": {"code"},
		"force_auth":    {"true"},
		"client_id":     {appKey},
		"redirect_uri":  {redirect},
		"state":         {state},
	}
	return origin(host, LazadaAuthHost) + LazadaAuthPath + "?" + q.Encode()
}

// TikTokAuthURL is TikTok Shop's authorisation link: GET
// {auth host}/oauth/authorize?app_key={app key}&state={state}. The
// redirect is the one registered for the app in Partner Center; TikTok
// returns code and state to it.
func TikTokAuthURL(host, appKey, state string) string {
	q := url.Values{"app_key": {appKey}, "state": {state}}
	return origin(host, TikTokAuthHost) + TikTokAuthPath + "?" + q.Encode()
}

// origin returns scheme://host of u, or def when u is empty or unusable.
func origin(u, def string) string {
	p, err := url.Parse(u)
	if u == "" || err != nil || p.Host == "" {
		return def
	}
	return strings.ToLower(p.Scheme) + "://" + p.Host
}
