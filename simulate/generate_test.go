package simulate

import (
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
)

func generateTest(t *testing.T, seed, nonce uint64) []*orderPlan {
	t.Helper()
	o := Options{BaseURL: "http://x", APIToken: "t", Shopee: testShopee, Lazada: testLazada, TikTok: testTikTok, Orders: 90, Seed: seed}.withDefaults()
	plans, err := newGenerator(o, seed, nonce, time.Now()).generate()
	if err != nil {
		t.Fatal(err)
	}
	return plans
}

// TestGenerate checks every generated push against the real verifiers and
// parsers: signed right, about the planned order, and with update times
// that strictly increase along each order's lifecycle.
func TestGenerate(t *testing.T) {
	t.Parallel()
	now := time.Now()
	verify := map[order.Platform]func(string, []byte) error{
		order.Shopee: shopee.NewVerifier(testShopee.CallbackURL, []byte(testShopee.PushKey)).Verify,
		order.Lazada: lazada.NewVerifier(testLazada.AppKey, []byte(testLazada.AppSecret)).Verify,
		order.TikTok: tiktok.NewVerifier(testTikTok.AppKey, []byte(testTikTok.AppSecret)).Verify,
	}
	parse := map[order.Platform]func([]byte, time.Time) (order.Event, error){
		order.Shopee: shopee.Parse, order.Lazada: lazada.Parse, order.TikTok: tiktok.Parse,
	}
	keys := map[string]bool{}
	for _, plan := range generateTest(t, 7, 1) {
		var last time.Time
		var finals int
		seen := map[*push]bool{}
		var lifecycle []order.Event // the status events, in send order
		for _, d := range plan.sends {
			if seen[d.push] != d.duplicate {
				t.Fatalf("%s: duplicate flag %v on a push seen %v", plan.orderID, d.duplicate, seen[d.push])
			}
			seen[d.push] = true
			if d.duplicate {
				continue
			}
			if err := verify[plan.platform](d.push.signature, d.push.body); err != nil {
				t.Fatalf("%s: Verify: %v", d.push.body, err)
			}
			ev, err := parse[plan.platform](d.push.body, now)
			if err != nil {
				t.Fatalf("%s: Parse: %v", d.push.body, err)
			}
			if ev.ShopID != plan.shopID || ev.OrderID != plan.orderID || d.push.path != "/webhooks/"+string(plan.platform) {
				t.Fatalf("push %s is not about %s/%s/%s", d.push.body, plan.platform, plan.shopID, plan.orderID)
			}
			if keys[ev.Key] {
				t.Fatalf("two distinct pushes share the key %s", ev.Key)
			}
			keys[ev.Key] = true
			if n := len(d.push.body); n < 150 || n > 1024 {
				t.Fatalf("push of %d bytes: %s", n, d.push.body)
			}
			if d.push.final {
				finals++
				if ev.PlatformStatus != plan.finalRaw || ev.Status != plan.finalStatus {
					t.Fatalf("final push %s, plan %s/%s", d.push.body, plan.finalRaw, plan.finalStatus)
				}
			}
			if ev.Status != "" {
				lifecycle = append(lifecycle, ev)
			}
			if !ev.UpdateTime.IsZero() && ev.UpdateTime.After(now) {
				t.Fatalf("update time in the future: %s", d.push.body)
			}
		}
		if finals == 0 || plan.finalStatus == order.StatusUnknown || plan.finalStatus == "" {
			t.Fatalf("%s: %d final pushes, final status %q", plan.orderID, finals, plan.finalStatus)
		}
		// The latest update time carries the final status.
		for _, ev := range lifecycle {
			if ev.UpdateTime.After(last) {
				last = ev.UpdateTime
			}
		}
		for _, ev := range lifecycle {
			if ev.UpdateTime.Equal(last) && ev.PlatformStatus != plan.finalRaw {
				t.Fatalf("%s: status %s shares the last update time with the final %s", plan.orderID, ev.PlatformStatus, plan.finalRaw)
			}
		}
	}
}

// TestGenerateLifecycleTimes checks that update times strictly increase
// from one lifecycle step to the next.
func TestGenerateLifecycleTimes(t *testing.T) {
	t.Parallel()
	o := Options{Seed: 3}.withDefaults()
	g := newGenerator(o, 3, 4, time.Now())
	for range 200 {
		steps, times := g.lifecycle(tiktokFlow, tiktokCancel)
		if len(steps) != len(times) {
			t.Fatalf("%d steps, %d times", len(steps), len(times))
		}
		for i := 1; i < len(times); i++ {
			if times[i] <= times[i-1] {
				t.Fatalf("times not strictly increasing: %v", times)
			}
		}
	}
}

// TestGenerateSeed checks that the seed fixes the decisions and the nonce
// the identifiers.
func TestGenerateSeed(t *testing.T) {
	t.Parallel()
	a, b, c := generateTest(t, 11, 1), generateTest(t, 11, 2), generateTest(t, 12, 1)
	ids := map[string]bool{}
	for _, p := range a {
		ids[p.orderID] = true
	}
	same, differ := true, false
	for i := range a {
		if ids[b[i].orderID] {
			t.Fatalf("order id %s reused by a run with another nonce", b[i].orderID)
		}
		if a[i].platform != b[i].platform || a[i].finalRaw != b[i].finalRaw || len(a[i].sends) != len(b[i].sends) {
			same = false
		}
		for j := range min(len(a[i].sends), len(b[i].sends)) {
			if a[i].sends[j].duplicate != b[i].sends[j].duplicate || a[i].sends[j].push.final != b[i].sends[j].push.final {
				same = false
			}
		}
		if len(a[i].sends) != len(c[i].sends) || a[i].finalRaw != c[i].finalRaw {
			differ = true
		}
	}
	if !same {
		t.Fatalf("the same seed made different decisions")
	}
	if !differ {
		t.Fatalf("another seed made the same decisions")
	}
}
