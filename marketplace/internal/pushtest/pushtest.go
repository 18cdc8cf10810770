// Package pushtest holds test helpers shared by the marketplace push
// packages (shopee, lazada and tiktok). It is imported only by their tests.
package pushtest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/pushwire"
	"github.com/orderlane/orderlane/order"
)

// ParseFunc parses one push body, as a package's Parse does with a fixed
// receive time.
type ParseFunc func(body []byte) (order.Event, error)

// VerifyFunc checks a signature over a body.
type VerifyFunc func(sig string, body []byte) error

// CheckEvent asserts the invariants of every event parsed from body by the
// given platform's Parse.
func CheckEvent(t testing.TB, ev order.Event, body []byte, platform order.Platform) {
	t.Helper()
	if ev.Platform != platform || !ev.Platform.Valid() {
		t.Fatalf("Platform = %q", ev.Platform)
	}
	prefix := string(platform) + ":"
	if !strings.HasPrefix(ev.Key, prefix) || len(ev.Key) == len(prefix) {
		t.Fatalf("Key = %q", ev.Key)
	}
	if !bytes.Equal(ev.Payload, body) {
		t.Fatalf("Payload = %q, want the body %q", ev.Payload, body)
	}
	if len(body) > 0 && &ev.Payload[0] == &body[0] {
		t.Fatalf("Payload aliases the body")
	}
	if ev.Kind.IsOrder() != (ev.OrderID != "") {
		t.Fatalf("Kind %q with OrderID %q", ev.Kind, ev.OrderID)
	}
	if ev.Kind.IsOrder() && ev.ShopID == "" {
		t.Fatalf("order kind %q without a shop id", ev.Kind)
	}
	for _, s := range []string{ev.ShopID, ev.OrderID} {
		if strings.ContainsAny(s, ":\x00\n\r") || len(s) > pushwire.MaxIDLen {
			t.Fatalf("id %q is unsafe in a group", s)
		}
	}
	if ev.Status != "" && !ev.Status.Valid() {
		t.Fatalf("Status = %q", ev.Status)
	}
	if ev.Status != "" && ev.Kind != order.KindStatus {
		t.Fatalf("Status %q on kind %q", ev.Status, ev.Kind)
	}
	if ev.PushType == "" {
		t.Fatalf("empty PushType")
	}
	if !ev.UpdateTime.IsZero() && ev.UpdateTime.Location().String() != "UTC" {
		t.Fatalf("UpdateTime %v is not UTC", ev.UpdateTime)
	}
}

// FuzzParse seeds f with seeds and checks that parse never panics, leaves
// its input alone, fails only with ErrMalformed, is deterministic and
// returns events satisfying CheckEvent.
func FuzzParse(f *testing.F, seeds []string, parse ParseFunc, platform order.Platform) {
	f.Helper()
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := bytes.Clone(body)
		ev, err := parse(body)
		if !bytes.Equal(body, in) {
			t.Fatalf("Parse changed its input")
		}
		if err != nil {
			if !errors.Is(err, marketplace.ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		CheckEvent(t, ev, body, platform)
		again, err := parse(body)
		if err != nil || again.Key != ev.Key || again.Group() != ev.Group() {
			t.Fatalf("Parse is not deterministic: %+v, %v", again, err)
		}
	})
}

// Signer is the shape of a package's SignPush: an identity (callback URL or
// app key), a secret and a body.
type Signer func(id string, key, body []byte) string

// FuzzVerify runs the Verify fuzz body over the corpus already added to f:
// newVerify(id, key) must return the Verify method of a fresh verifier. It
// checks that Verify never panics, returns only the documented errors and
// accepts exactly what sign produces (in either case). If fallback is not
// nil, it must verify with key as a fallback key and must accept sign's
// signature.
func FuzzVerify(f *testing.F, newVerify func(id string, key []byte) VerifyFunc, sign Signer, fallback func(id string, key []byte) VerifyFunc) {
	f.Helper()
	f.Fuzz(func(t *testing.T, id string, key, body []byte, sig string) {
		verify := newVerify(id, key)
		err := verify(sig, body)
		if err != nil && !errors.Is(err, marketplace.ErrBadSignature) && !errors.Is(err, marketplace.ErrMissingSignature) {
			t.Fatalf("Verify returned an undocumented error %v", err)
		}
		good := sign(id, key, body)
		if err == nil && (len(key) == 0 || !strings.EqualFold(strings.TrimSpace(sig), good)) {
			t.Fatalf("Verify accepted %q; SignPush gives %q", sig, good)
		}
		if len(key) == 0 {
			return
		}
		if err := verify(good, body); err != nil {
			t.Fatalf("Verify(SignPush) = %v", err)
		}
		if err := verify(strings.ToUpper(good), body); err != nil {
			t.Fatalf("Verify(upper-case SignPush) = %v", err)
		}
		if fallback != nil {
			if err := fallback(id, key)(good, body); err != nil {
				t.Fatalf("Verify with the key as fallback = %v", err)
			}
		}
	})
}

// BenchVerifyAndParse benchmarks verify, parse and both (serially and in
// parallel) on one signed body.
func BenchVerifyAndParse(b *testing.B, verify VerifyFunc, parse ParseFunc, body []byte, sig string) {
	b.Helper()
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := verify(sig, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := parse(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("both", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := verify(sig, body); err != nil {
				b.Fatal(err)
			}
			if _, err := parse(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("both-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := verify(sig, body); err != nil {
					b.Fatal(err)
				}
				if _, err := parse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// MustParse parses body, failing the test on an error.
func MustParse(t testing.TB, parse ParseFunc, body string) order.Event {
	t.Helper()
	ev, err := parse([]byte(body))
	if err != nil {
		t.Fatalf("Parse(%s) = %v", body, err)
	}
	return ev
}

// CheckFields compares ev with want field by field, times with Equal; an
// empty want.Key is not compared.
func CheckFields(t testing.TB, ev, want order.Event) {
	t.Helper()
	if !ev.UpdateTime.Equal(want.UpdateTime) || !ev.ReceivedAt.Equal(want.ReceivedAt) {
		t.Fatalf("UpdateTime %v ReceivedAt %v, want %v %v", ev.UpdateTime, ev.ReceivedAt, want.UpdateTime, want.ReceivedAt)
	}
	got := ev
	got.Payload, got.UpdateTime, got.ReceivedAt = nil, time.Time{}, time.Time{}
	want.Payload, want.UpdateTime, want.ReceivedAt = nil, time.Time{}, time.Time{}
	if want.Key == "" {
		got.Key = ""
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", got, want)
	}
}

// CheckGroups checks that each body parses to an event whose Group is the
// mapped value.
func CheckGroups(t testing.TB, parse ParseFunc, groups map[string]string) {
	t.Helper()
	for body, want := range groups {
		ev := MustParse(t, parse, body)
		if got := ev.Group(); got != want {
			t.Errorf("Parse(%s).Group() = %q, want %q", body, got, want)
		}
	}
}

// RunMalformed runs one parallel subtest per named body, each checking that
// parse fails with ErrMalformed and a short reason after the sentinel.
func RunMalformed(t *testing.T, parse ParseFunc, tests map[string]string) {
	t.Helper()
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev, err := parse([]byte(body))
			if !errors.Is(err, marketplace.ErrMalformed) {
				t.Fatalf("Parse(%s) = %+v, %v; want ErrMalformed", body, ev, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "malformed push: ") || len(msg) > 100 {
				t.Fatalf("error %q: want a short reason after the sentinel", msg)
			}
		})
	}
}

// CheckKeysSame checks that every named body gets the key want.
func CheckKeysSame(t testing.TB, key func(body string) string, want string, same map[string]string) {
	t.Helper()
	for name, body := range same {
		if got := key(body); got != want {
			t.Errorf("%s: Key = %q, want %q", name, got, want)
		}
	}
}

// CheckKeysDiffer checks that every named body gets a key distinct from
// base's key k and from each other's. The bodies are usually edits of base:
// one equal to base means an edit did not apply, and fails the test.
func CheckKeysDiffer(t testing.TB, key func(body string) string, base, k string, differ map[string]string) {
	t.Helper()
	seen := map[string]string{k: "base"}
	for name, body := range differ {
		if body == base {
			t.Fatalf("%s: replacement did not apply", name)
		}
		got := key(body)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: Key %q collides with %s", name, got, prev)
		}
		seen[got] = name
	}
}

// Verifier is what a package's *Verifier provides.
type Verifier interface {
	Verify(signature string, body []byte) error
}

// VerifyCase is one row of a Verify table. It is an alias of an unnamed
// struct type so that tables may list their rows without field names.
type VerifyCase[V Verifier] = struct {
	Name string
	V    V
	Sig  string
	Body []byte
	Want error
}

// RunVerifyCases runs one parallel subtest per case, checking that Verify
// returns an error matching Want (exactly nil when Want is nil).
func RunVerifyCases[V Verifier](t *testing.T, tests []VerifyCase[V]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			if err := tt.V.Verify(tt.Sig, tt.Body); !errors.Is(err, tt.Want) || (tt.Want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.Want)
			}
		})
	}
}

// CheckEveryFlippedByte checks that verify rejects sig over body with any
// one byte's 0x20 bit flipped.
func CheckEveryFlippedByte(t testing.TB, verify VerifyFunc, sig, body string) {
	t.Helper()
	for i := range len(body) {
		b := []byte(body)
		b[i] ^= 0x20
		if err := verify(sig, b); !errors.Is(err, marketplace.ErrBadSignature) {
			t.Fatalf("byte %d flipped: Verify = %v, want ErrBadSignature", i, err)
		}
	}
}

// VerifyConcurrent calls verify from 8 goroutines, 200 times each; every
// third call uses badSig over badBody and must return exactly
// ErrBadSignature, the rest use goodSig over goodBody and must return nil.
func VerifyConcurrent(t testing.TB, verify VerifyFunc, goodSig, goodBody, badSig, badBody string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				sig, body, want := goodSig, []byte(goodBody), error(nil)
				if (g+i)%3 == 0 {
					sig, body, want = badSig, []byte(badBody), marketplace.ErrBadSignature
				}
				if err := verify(sig, body); err != want { //nolint:errorlint // the exact sentinel, unwrapped, is the contract
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Verify: unexpected result %v", err)
	}
}
