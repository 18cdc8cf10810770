package apiconfig_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/internal/apiconfig"
	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
)

func TestMapStatusDefaultsAndOverrides(t *testing.T) {
	t.Parallel()
	shipped := func(string) order.Status { return order.StatusShipped }
	overrides := map[order.Platform]func(string) order.Status{order.Shopee: shipped, order.Lazada: nil}
	got := apiconfig.MapStatus(overrides)
	for _, p := range order.Platforms {
		if got[p] == nil {
			t.Fatalf("no mapping for %s", p)
		}
	}
	if s := got[order.Shopee]("UNPAID"); s != order.StatusShipped {
		t.Fatalf("shopee override not used: %q", s)
	}
	if got[order.Lazada]("pending") != lazada.MapStatus("pending") {
		t.Fatal("a nil override must keep the default")
	}
	if len(overrides) != 2 {
		t.Fatal("overrides changed")
	}
}

func TestValidateClients(t *testing.T) {
	t.Parallel()
	sc, err := shopee.NewClient(shopee.ClientConfig{PartnerID: "1", PartnerKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		clients map[order.Platform]marketplace.Client
		want    string
	}{
		{map[order.Platform]marketplace.Client{order.Shopee: sc}, ""},
		{map[order.Platform]marketplace.Client{order.Shopee: nil}, `x: Config.Clients["shopee"] is nil`},
		{map[order.Platform]marketplace.Client{order.Lazada: sc}, `x: Config.Clients["lazada"] is a shopee client`},
	} {
		err := apiconfig.ValidateClients("x", tc.clients)
		if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
			t.Fatalf("ValidateClients = %v, want %q", err, tc.want)
		}
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "apiconfig_test_total", Help: "test"})
	if err := apiconfig.Register("x", nil, c); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := apiconfig.Register("x", reg, c); err != nil {
		t.Fatal(err)
	}
	err := apiconfig.Register("x", reg, c)
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) || !strings.HasPrefix(err.Error(), "x: register metrics: ") {
		t.Fatalf("second Register = %v", err)
	}
}
