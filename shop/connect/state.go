// Package connect is the seller's side of connecting a shop: the
// authorisation URL of each marketplace, the signed state that ties the
// marketplace's redirect back to an authorisation orderlane started, and
// the callback that trades the code for the shop's tokens and stores the
// connection.
package connect

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/orderlane/orderlane/order"
)

// Errors of States.Check. Neither repeats the state it refuses.
var (
	// ErrBadState: the state is not one this server signed, or was
	// issued for another marketplace.
	ErrBadState = errors.New("connect: invalid authorisation state")
	// ErrStateExpired: the state was signed here but its time is up;
	// start the authorisation again.
	ErrStateExpired = errors.New("connect: authorisation state expired")
)

// DefaultStateTTL is how long an authorisation may take, from the admin's
// request to the marketplace's redirect.
const DefaultStateTTL = 15 * time.Minute

// MaxStateLen caps a state read from a callback (bytes).
const MaxStateLen = 256

// stateDomain separates this HMAC's inputs from any other use of the key.
const stateDomain = "orderlane connect state v1\x00"

// States issues and checks the state parameter of the authorisation
// redirect: an HMAC-SHA256-signed token naming one marketplace and an
// expiry, with a random nonce. It is safe for concurrent use.
type States struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// DeriveStateKey derives the state-signing key from the token key, so one
// secret serves both and neither use can stand in for the other.
func DeriveStateKey(tokenKey []byte) []byte {
	m := hmac.New(sha256.New, tokenKey)
	m.Write([]byte("orderlane connect state key"))
	return m.Sum(nil)
}

// NewStates returns States signing with key (at least 32 bytes), valid
// for ttl (DefaultStateTTL when 0), on the clock now (time.Now when nil).
func NewStates(key []byte, ttl time.Duration, now func() time.Time) (*States, error) {
	if len(key) < 32 {
		return nil, errors.New("connect: state key shorter than 32 bytes")
	}
	if ttl <= 0 {
		ttl = DefaultStateTTL
	}
	if now == nil {
		now = time.Now
	}
	return &States{key: append([]byte(nil), key...), ttl: ttl, now: now}, nil
}

// Issue returns a state for an authorisation of p (of the shop shopID
// when not empty: letters, digits, '-' and '_', at most MaxShopIDLen) and
// when it expires. Its form: base64url(platform "." expiry-unix "." nonce
// "." shop id) "." base64url(HMAC-SHA256(key, domain + payload)).
func (s *States) Issue(p order.Platform, shopID string) (string, time.Time, error) {
	if !idText(shopID) {
		return "", time.Time{}, fmt.Errorf("%w: shop id: letters, digits, '-' and '_', at most %d", ErrBadCallback, MaxShopIDLen)
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("connect: state nonce: %w", err)
	}
	exp := s.now().Add(s.ttl).Truncate(time.Second)
	payload := string(p) + "." + strconv.FormatInt(exp.Unix(), 10) + "." + hex.EncodeToString(nonce[:]) + "." + shopID
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(s.mac(payload)), exp, nil
}

func (s *States) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(stateDomain))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Check reports whether state was issued here for p and is still valid,
// and returns the shop id it names ("" for none): ErrBadState (forged,
// altered, for another marketplace) or ErrStateExpired. The signature is
// compared in constant time before anything in the state is believed.
func (s *States) Check(p order.Platform, state string) (string, error) {
	if state == "" || len(state) > MaxStateLen {
		return "", ErrBadState
	}
	enc, sigEnc, ok := strings.Cut(state, ".")
	if !ok {
		return "", ErrBadState
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(enc)
	sig, err2 := base64.RawURLEncoding.DecodeString(sigEnc)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, s.mac(string(payload))) {
		return "", ErrBadState
	}
	parts := strings.Split(string(payload), ".")
	if len(parts) != 4 || parts[0] != string(p) {
		return "", ErrBadState
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", ErrBadState
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return "", ErrStateExpired
	}
	return parts[3], nil
}

// idText reports whether s is a usable shop id in a state (or empty).
func idText(s string) bool {
	if len(s) > MaxShopIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}
