// Package storetest is the conformance suite every cache.Store driver
// passes: round trips, first-writer-wins Add, delete, per-key expiry and
// arbitrary keys.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/cache"
)

// Run runs the suite. newStore returns a store with no keys of its own
// (a fresh bucket, or a fresh key prefix on a shared database).
func Run(t *testing.T, newStore func(t *testing.T) cache.Store) {
	ctx := context.Background()
	const ttl = time.Minute

	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.Get(ctx, "missing"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
		}
	})

	t.Run("SetGetOverwrite", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustSet(t, s, "k", "one", ttl)
		wantValue(t, s, "k", "one")
		mustSet(t, s, "k", "two", ttl)
		wantValue(t, s, "k", "two")
	})

	t.Run("AddFirstWriterWins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if added, err := s.Add(ctx, "k", []byte("first"), ttl); err != nil || !added {
			t.Fatalf("first Add: added=%v err=%v, want true", added, err)
		}
		if added, err := s.Add(ctx, "k", []byte("second"), ttl); err != nil || added {
			t.Fatalf("second Add: added=%v err=%v, want false", added, err)
		}
		wantValue(t, s, "k", "first")
	})

	t.Run("ConcurrentAddOneWinner", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for round := range 2 {
			if round == 1 {
				// After a delete the key is free again, once.
				if err := s.Delete(ctx, "k"); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			winners, errs := 0, []error{}
			for i := range 8 {
				wg.Go(func() {
					added, err := s.Add(ctx, "k", fmt.Appendf(nil, "%d", i), ttl)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
					}
					if added {
						winners++
					}
				})
			}
			wg.Wait()
			if len(errs) > 0 || winners != 1 {
				t.Fatalf("round %d: %d of 8 concurrent Adds won (errors %v), want exactly 1", round, winners, errs)
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if err := s.Delete(ctx, "never-set"); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
		mustSet(t, s, "k", "v", ttl)
		if err := s.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
		}
		if added, err := s.Add(ctx, "k", []byte("again"), ttl); err != nil || !added {
			t.Fatalf("Add after Delete: added=%v err=%v, want true", added, err)
		}
		wantValue(t, s, "k", "again")
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.Add(ctx, "added", []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
		mustSet(t, s, "set", "v", time.Second)
		mustSet(t, s, "kept", "v", ttl)
		for _, k := range []string{"added", "set"} {
			waitFor(t, 15*time.Second, k+" expired", func() bool {
				_, err := s.Get(ctx, k)
				return errors.Is(err, cache.ErrNotFound)
			})
		}
		wantValue(t, s, "kept", "v")
		if added, err := s.Add(ctx, "added", []byte("new"), ttl); err != nil || !added {
			t.Fatalf("Add after expiry: added=%v err=%v, want true", added, err)
		}
		wantValue(t, s, "added", "new")
	})

	t.Run("AnyKey", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		keys := []string{
			"shopee:64ca21a145e29bda3a6e31203c800e00",
			"lazada:h:0123456789abcdef0123456789abcdef",
			"with space", "dots.in.key", ".leading", "trailing.", "a..b", "a/b", "*", ">",
			"_h.looks-hashed", "#looks-hashed", "ünïcödé", strings.Repeat("x", 1000), strings.Repeat("x", 1001),
		}
		for i, k := range keys {
			mustSet(t, s, k, fmt.Sprint(i), ttl)
		}
		for i, k := range keys {
			wantValue(t, s, k, fmt.Sprint(i))
		}
	})
}

func mustSet(t *testing.T, s cache.Store, key, value string, ttl time.Duration) {
	t.Helper()
	if err := s.Set(context.Background(), key, []byte(value), ttl); err != nil {
		t.Fatalf("Set %.40q: %v", key, err)
	}
}

func wantValue(t *testing.T, s cache.Store, key, want string) {
	t.Helper()
	got, err := s.Get(context.Background(), key)
	if err != nil || !bytes.Equal(got, []byte(want)) {
		t.Fatalf("Get %.40q = %q, %v; want %q", key, got, err, want)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
