// Package apitoken keeps the API's bearer tokens: each with an id, a scope
// (read or admin) and an optional name, stored in one file in the data
// dir, api-tokens.json (mode 0600), as the SHA-256 of the token, never the
// token itself. `orderlane tokens create|list|revoke` edits the file; a
// running server sees each change on the next call it checks.
//
// Why SHA-256 and not bcrypt: a token is 32 random bytes (256 bits), so
// guessing one from its hash is as hopeless as guessing the token, and a
// slow hash adds nothing. bcrypt exists for low-entropy passwords; here it
// would only cost every API call tens of milliseconds of CPU, which is a
// denial-of-service lever, and make checking a token against the whole
// file slow.
package apitoken

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orderlane/orderlane/internal/atomicfile"
)

// Scope is what a token may do.
type Scope string

const (
	// Read allows the query API (orders and their history).
	Read Scope = "read"
	// Admin allows everything Read does, and the admin API (dead
	// letters, subscriptions).
	Admin Scope = "admin"
)

// ParseScope returns the scope named s.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case Read, Admin:
		return Scope(s), nil
	}
	return "", fmt.Errorf("apitoken: scope %q: want read or admin", s)
}

// Allows reports whether a token of scope s may use a route that needs
// scope need. Admin allows everything.
func (s Scope) Allows(need Scope) bool {
	return s == Admin || s == need
}

// Token is a stored token: everything but the secret.
type Token struct {
	// ID names the token for list and revoke; not secret.
	ID string `json:"id"`
	// Name is the operator's label ("reporting", "ops laptop").
	Name  string `json:"name,omitempty"`
	Scope Scope  `json:"scope"`
	// SHA256 is the hex SHA-256 of the secret.
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
}

// FileName is the store's file in the data dir.
const FileName = "api-tokens.json"

// Prefix starts every token this package makes, so a leaked one is easy
// to recognise (secret scanners, logs).
const Prefix = "olt_"

// ErrNotFound: no token with that id.
var ErrNotFound = errors.New("apitoken: no such token")

type file struct {
	Tokens []Token `json:"tokens"`
}

// Store is the token file of one data dir. Safe for concurrent use; Create
// and Revoke also exclude other processes (a lock file beside it).
type Store struct {
	dir, path string

	mu     sync.Mutex
	stat   fs.FileInfo // of the file as last loaded; nil: absent
	hashes [][sha256.Size]byte
	tokens []Token
	err    error // of the last load: every check fails until it loads
}

// Open returns the store in dataDir, which must exist and be a directory
// this process can use: the tool never creates a data dir of its own, so
// it cannot write tokens where the server does not look.
func Open(dataDir string) (*Store, error) {
	fi, err := os.Stat(dataDir)
	if err != nil {
		return nil, fmt.Errorf("apitoken: data dir: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("apitoken: data dir %s is not a directory", dataDir)
	}
	f, err := os.Open(dataDir) // #nosec G304 -- the configured data dir
	if err != nil {
		return nil, fmt.Errorf("apitoken: data dir: %w", err)
	}
	f.Close()
	return &Store{dir: dataDir, path: filepath.Join(dataDir, FileName)}, nil
}

// Path is the token file.
func (s *Store) Path() string { return s.path }

// Check returns the token whose secret is secret. The file is re-read
// when it changed since the last call, so a revoke takes effect on the
// next request. Every stored hash is compared, in constant time, whatever
// matches: the time taken tells nothing about which token, or how much of
// one, matched.
func (s *Store) Check(secret string) (Token, bool) {
	got := sha256.Sum256([]byte(secret))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	if s.err != nil || secret == "" {
		return Token{}, false
	}
	found := -1
	for i := range s.hashes {
		if subtle.ConstantTimeCompare(got[:], s.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Token{}, false
	}
	return s.tokens[found], true
}

// Err is the error of the last load (a file that does not parse): while
// it is set, no token is accepted.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	return s.err
}

// refresh reloads the file if it changed (another file, size or mtime).
// Callers hold s.mu.
func (s *Store) refresh() {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.stat, s.hashes, s.tokens, s.err = nil, nil, nil, nil
		return
	case err != nil:
		s.err = fmt.Errorf("apitoken: %w", err)
		return
	}
	if s.stat != nil && os.SameFile(s.stat, fi) && fi.ModTime().Equal(s.stat.ModTime()) && fi.Size() == s.stat.Size() {
		return
	}
	toks, err := s.read()
	if err != nil {
		s.stat, s.hashes, s.tokens, s.err = nil, nil, nil, err
		return
	}
	hashes := make([][sha256.Size]byte, len(toks))
	for i, t := range toks {
		if n, err := hex.Decode(hashes[i][:], []byte(t.SHA256)); err != nil || n != sha256.Size {
			s.stat, s.hashes, s.tokens, s.err = nil, nil, nil, fmt.Errorf("apitoken: %s: token %s: bad sha256", s.path, t.ID)
			return
		}
	}
	s.stat, s.hashes, s.tokens, s.err = fi, hashes, toks, nil
}

func (s *Store) read() ([]Token, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("apitoken: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("apitoken: %s: %w", s.path, err)
	}
	return f.Tokens, nil
}

// List returns the tokens, oldest first.
func (s *Store) List() ([]Token, error) {
	return s.read()
}

// Create makes a token of scope with an optional name, stores its hash,
// and returns the secret: it is shown this once and cannot be recovered.
func (s *Store) Create(scope Scope, name string) (secret string, t Token, err error) {
	if _, err := ParseScope(string(scope)); err != nil {
		return "", Token{}, err
	}
	if strings.ContainsAny(name, "\n\r\t") || len(name) > 100 {
		return "", Token{}, errors.New("apitoken: name: at most 100 characters, no control characters")
	}
	secret = Prefix + rand.Text() + rand.Text() // 2 x 128 bits, base32
	sum := sha256.Sum256([]byte(secret))
	t = Token{ID: randomID(), Name: name, Scope: scope, SHA256: hex.EncodeToString(sum[:]), CreatedAt: time.Now().UTC().Truncate(time.Second)}
	err = s.update(func(toks []Token) ([]Token, error) {
		return append(toks, t), nil
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// Revoke deletes the token with id; the server refuses it from its next
// check on.
func (s *Store) Revoke(id string) (Token, error) {
	var gone Token
	err := s.update(func(toks []Token) ([]Token, error) {
		i := slices.IndexFunc(toks, func(t Token) bool { return t.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		gone = toks[i]
		return slices.Delete(toks, i, i+1), nil
	})
	return gone, err
}

// update rewrites the file under the lock, atomically and durably
// (atomicfile.Write), so a reader, or a restart after a power cut, sees the
// old or the new file, never half.
func (s *Store) update(change func([]Token) ([]Token, error)) error {
	unlock, err := lockFile(filepath.Join(s.dir, FileName+".lock"))
	if err != nil {
		return fmt.Errorf("apitoken: lock: %w", err)
	}
	defer unlock()
	toks, err := s.read()
	if err != nil {
		return err
	}
	if toks, err = change(toks); err != nil {
		return err
	}
	b, err := json.MarshalIndent(file{Tokens: toks}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("apitoken: %w", err)
	}
	return nil
}

// randomID is 12 hex characters: enough to tell tokens apart, not a
// secret.
func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
