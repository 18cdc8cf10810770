package gateway

import (
	"fmt"
	"testing"
	"time"
)

// TestKeyedIsBounded: however many keys arrive, at most max buckets are
// held; the least recently used goes first.
func TestKeyedIsBounded(t *testing.T) {
	t.Parallel()
	k := newKeyed(Bucket{Rate: 1, Burst: 1}, 100)
	now := time.Now()
	hot := k.get("hot", now)
	for i := range 10_000 {
		k.get(fmt.Sprint("flood", i), now)
		if i%50 == 0 {
			k.get("hot", now) // kept recent: never evicted
		}
	}
	if n := k.len(); n != 100 {
		t.Fatalf("%d buckets, want the bound 100", n)
	}
	if k.get("hot", now) != hot {
		t.Fatal("a recently used bucket was evicted")
	}
}

// TestKeyedDropsFullBuckets: a bucket unused for its refill time is
// dropped as later requests pass; one still refilling is kept.
func TestKeyedDropsFullBuckets(t *testing.T) {
	t.Parallel()
	k := newKeyed(Bucket{Rate: 10, Burst: 20}, 100) // refills in 2 s
	now := time.Now()
	for i := range 10 {
		k.get(fmt.Sprint("a", i), now)
	}
	k.get("b", now.Add(time.Second))
	if n := k.len(); n != 11 {
		t.Fatalf("%d buckets after 1 s, want 11", n)
	}
	for i := range 5 {
		k.get(fmt.Sprint("c", i), now.Add(3*time.Second))
	}
	if n := k.len(); n != 6 {
		t.Fatalf("%d buckets after 3 s, want 6 (the a's dropped, b and the c's kept)", n)
	}
}

// TestAdmitAllOrNone: a push refused by a later bucket gives back the
// tokens it took from the earlier ones.
func TestAdmitAllOrNone(t *testing.T) {
	t.Parallel()
	th := newThrottle(Limits{
		IP:       Bucket{Rate: 1e-3, Burst: 10},
		Platform: Bucket{Rate: 1e-3, Burst: 10},
		Global:   Bucket{Rate: 1e-3, Burst: 2},
	}, []string{"shopee"})
	now := time.Now()
	for i, want := range []string{"", "", ScopeGlobal, ScopeGlobal} {
		if scope, _ := th.admit("shopee", "a", now); scope != want {
			t.Fatalf("push %d: refused by %q, want %q", i, scope, want)
		}
	}
	if got := th.ip.get("a", now).TokensAt(now); got != 8 {
		t.Fatalf("ip bucket has %v tokens, want 8 (two pushes admitted, two refused and given back)", got)
	}
	if got := th.platform["shopee"].TokensAt(now); got != 8 {
		t.Fatalf("platform bucket has %v tokens, want 8", got)
	}
}

// BenchmarkAdmit is the per-request cost of the checks before the body
// (per-address, per-platform and global buckets), with buckets that
// never run out.
func BenchmarkAdmit(b *testing.B) {
	th := newThrottle(Limits{
		IP:       Bucket{Rate: 1e12, Burst: 1 << 30},
		Platform: Bucket{Rate: 1e12, Burst: 1 << 30},
		Global:   Bucket{Rate: 1e12, Burst: 1 << 30},
	}, []string{"shopee"})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("203.0.%d.%d", i/256, i%256)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if scope, _ := th.admit("shopee", keys[i%len(keys)], time.Now()); scope != "" {
				b.Fatal(scope)
			}
			i++
		}
	})
}

// BenchmarkAdmitShop is the cost of the per-shop check, over 10,000
// shops (the default bound).
func BenchmarkAdmitShop(b *testing.B) {
	th := newThrottle(Limits{Shop: Bucket{Rate: 1e12, Burst: 1 << 30}}, []string{"shopee"})
	shops := make([]string, 10_000)
	for i := range shops {
		shops[i] = fmt.Sprint(336094210 + i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if ok, _ := th.admitShop("shopee", shops[i%len(shops)], time.Now()); !ok {
				b.Fatal("refused")
			}
			i++
		}
	})
}

// BenchmarkAdmitFlood is the cost of refusing: every bucket is empty, as
// under a flood.
func BenchmarkAdmitFlood(b *testing.B) {
	th := newThrottle(Limits{
		Platform: Bucket{Rate: 1e-3, Burst: 1},
		Global:   Bucket{Rate: 1e-3, Burst: 1},
	}, []string{"shopee"})
	th.admit("shopee", "", time.Now())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if scope, _ := th.admit("shopee", "", time.Now()); scope == "" {
				b.Fatal("admitted")
			}
		}
	})
}
