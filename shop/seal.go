package shop

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

// KeySize is the length of a token key: AES-256.
const KeySize = 32

// ErrBadSeal is returned when a sealed token cannot be opened: the key is
// not the one it was sealed with, it was sealed for another shop, or it
// was altered. It never yields a token.
var ErrBadSeal = errors.New("shop: sealed token cannot be opened (wrong key, sealed for another shop, or damaged)")

// ErrInvalid is wrapped by the errors of Connection.Validate.
var ErrInvalid = errors.New("shop: invalid connection")

// Limits on what a store keeps of a connection.
const (
	// MaxIDLen caps ShopID, Cipher and Region (bytes).
	MaxIDLen = 256
	// MaxLastError caps LastError (bytes); a longer one is cut.
	MaxLastError = 1024
	// maxSealed caps a sealed token read back (bytes).
	maxSealed = 64 << 10
)

// sealVersion is the first byte of a sealed token: the format below.
const sealVersion = 1

// Sealer encrypts tokens at rest: AES-256-GCM with a random 96-bit nonce
// per seal, and the shop's identity (platform, shop id) as additional
// authenticated data, so a sealed token opens only for the shop it was
// sealed for. A sealed token is: version byte (1) | nonce (12) |
// ciphertext and tag of the token's JSON. A Sealer is safe for concurrent
// use.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a Sealer for a KeySize-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("shop: token key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("shop: token key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("shop: token key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// ParseKey reads a token key written as hex (64 digits) or base64
// (standard or URL alphabet, padded or not) of KeySize bytes; surrounding
// spaces are ignored. Errors never repeat the key. A key is made with, for
// example, `openssl rand -base64 32`.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("shop: token key is empty")
	}
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("shop: token key decodes to %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("shop: token key (%d characters) is neither hex nor base64 of %d bytes", len(s), KeySize)
}

// aad binds a sealed token to its shop.
func aad(p order.Platform, shopID string) []byte {
	return []byte("orderlane shop token\x00" + string(p) + "\x00" + shopID)
}

// SealToken encrypts t for the shop (p, shopID).
func (s *Sealer) SealToken(p order.Platform, shopID string, t marketplace.Token) ([]byte, error) {
	plain, err := json.Marshal(t) // #nosec G117 -- the plaintext is sealed right below, never stored
	if err != nil {
		return nil, fmt.Errorf("shop: seal token: %w", err)
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("shop: seal token: %w", err)
	}
	out := make([]byte, 0, 1+len(nonce)+len(plain)+s.aead.Overhead())
	out = append(append(out, sealVersion), nonce...)
	return s.aead.Seal(out, nonce, plain, aad(p, shopID)), nil
}

// OpenToken decrypts a token SealToken sealed for the same shop with the
// same key, or fails with ErrBadSeal.
func (s *Sealer) OpenToken(p order.Platform, shopID string, sealed []byte) (marketplace.Token, error) {
	var t marketplace.Token
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || len(sealed) > maxSealed || sealed[0] != sealVersion {
		return t, fmt.Errorf("%w: %s/%s: not a sealed token", ErrBadSeal, p, shopID)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad(p, shopID))
	if err != nil {
		return t, fmt.Errorf("%w: %s/%s", ErrBadSeal, p, shopID)
	}
	if err := json.Unmarshal(plain, &t); err != nil {
		return marketplace.Token{}, fmt.Errorf("%w: %s/%s: sealed content is not a token", ErrBadSeal, p, shopID)
	}
	return t, nil
}

// Record is a connection as a store keeps it: the token sealed, every
// other field as it is.
type Record struct {
	Platform        order.Platform
	ShopID          string
	Cipher          string
	Region          string
	State           State
	ConnectedAt     time.Time
	UpdatedAt       time.Time
	ReconciledUntil time.Time
	LastError       string
	TokenSealed     []byte
}

// Seal validates c (Connection.Validate), cuts its LastError to
// MaxLastError and returns the record to store, the token sealed.
func (s *Sealer) Seal(c Connection) (Record, error) {
	if err := c.Validate(); err != nil {
		return Record{}, err
	}
	sealed, err := s.SealToken(c.Platform, c.ShopID, c.Token)
	if err != nil {
		return Record{}, err
	}
	return Record{
		Platform: c.Platform, ShopID: c.ShopID, Cipher: c.Cipher, Region: c.Region, State: c.State,
		ConnectedAt: c.ConnectedAt, UpdatedAt: c.UpdatedAt, ReconciledUntil: c.ReconciledUntil,
		LastError: cut(c.LastError, MaxLastError), TokenSealed: sealed,
	}, nil
}

// Open returns the connection of a stored record, its token opened, or
// an error wrapping ErrBadSeal.
func (s *Sealer) Open(r Record) (Connection, error) {
	t, err := s.OpenToken(r.Platform, r.ShopID, r.TokenSealed)
	if err != nil {
		return Connection{}, err
	}
	return Connection{
		Shop:  marketplace.Shop{Platform: r.Platform, ShopID: r.ShopID, Cipher: r.Cipher, Region: r.Region, Token: t},
		State: r.State, ConnectedAt: r.ConnectedAt, UpdatedAt: r.UpdatedAt, ReconciledUntil: r.ReconciledUntil,
		LastError: r.LastError,
	}, nil
}

// Valid reports whether s is one of the connection states.
func (s State) Valid() bool {
	switch s {
	case Connected, Expired, Revoked:
		return true
	}
	return false
}

// Validate reports, wrapping ErrInvalid, why c cannot be stored: an
// unknown platform or state, no shop id, or a ShopID, Cipher or Region
// longer than MaxIDLen or not UTF-8.
func (c *Connection) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case !c.Platform.Valid():
		return bad("platform %q", c.Platform)
	case c.ShopID == "":
		return bad("no shop id")
	case !c.State.Valid():
		return bad("state %q", c.State)
	}
	for _, f := range []struct{ name, v string }{{"shop id", c.ShopID}, {"cipher", c.Cipher}, {"region", c.Region}} {
		if len(f.v) > MaxIDLen || !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return bad("%s: %d bytes, want at most %d of UTF-8 text", f.name, len(f.v), MaxIDLen)
		}
	}
	return nil
}

// cut shortens s to at most n bytes of valid UTF-8 without NUL bytes (a
// marketplace's error text goes into a database column).
func cut(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Change is the read-modify-write step of Store.Update that every driver
// runs in its transaction on the row it read and locked: it opens r, lets
// fn change the connection and seals the result. fn's error is returned as
// it is; a change of the shop's identity is ErrInvalid. The connection
// returned carries the LastError stored (cut to MaxLastError); the record
// keeps the UpdatedAt fn left, for the driver to stamp the time of its
// write.
func (s *Sealer) Change(r Record, fn func(*Connection) error) (Connection, Record, error) {
	c, err := s.Open(r)
	if err != nil {
		return Connection{}, Record{}, err
	}
	if err := fn(&c); err != nil {
		return Connection{}, Record{}, err
	}
	if c.Platform != r.Platform || c.ShopID != r.ShopID {
		return Connection{}, Record{}, fmt.Errorf("%w: update cannot change the shop's identity", ErrInvalid)
	}
	next, err := s.Seal(c)
	if err != nil {
		return Connection{}, Record{}, err
	}
	c.LastError = next.LastError
	return c, next, nil
}
