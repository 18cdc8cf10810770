package sandbox_test

import (
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
	"github.com/orderlane/orderlane/sandbox/shopeesim"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
)

// TestDeliverWithSims plays a sale through the real fakes' push rendering:
// every push verifies with orderlane's verifiers and parses, and the
// events folded by orderlane's status rule match the ground truth despite
// duplicates and reordering.
func TestDeliverWithSims(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fast, sandbox.Spec{Orders: 90, Span: 20 * time.Minute}, 11)
	s.market = map[order.Platform]sandbox.Marketplace{
		order.Shopee: shopeesim.New(s.sale, shopeesim.Config{CallbackURL: s.recv.url(order.Shopee)}),
		order.Lazada: lazadasim.New(s.sale, lazadasim.Config{}),
		order.TikTok: tiktoksim.New(s.sale, tiktoksim.Config{}),
	}
	rep := s.deliver(t, sandbox.DeliveryOptions{Duplicates: 0.1, Reorder: 0.2, TrackingFirst: 0.5})
	if ms := sandbox.Compare(rep.Truth, s.recv.got()); len(ms) > 0 {
		t.Fatalf("%d mismatches, first %v", len(ms), ms[0])
	}
	for _, p := range order.Platforms {
		pr := rep.Platform(p)
		if pr.Pushes == 0 || pr.Failed != 0 || pr.Delivered != pr.Sent+pr.Duplicates {
			t.Errorf("%s: %+v", p, pr)
		}
	}
}
