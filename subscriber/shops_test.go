package subscriber_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/subscriber"
)

func TestClassifyAuthPush(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p       order.Platform
		typ     string
		shopID  string
		payload string
		change  subscriber.AuthChange
		ids     []string
	}{
		{order.Shopee, "2", "880001", `{"code":2,"shop_id":880001,"data":{}}`, subscriber.AuthRevoked, []string{"880001"}},
		{order.Shopee, "2", "", `{"code":2,"data":{"shop_id_list":[880002,"880003",-1,"x"],"shop_id":880002}}`, subscriber.AuthRevoked, []string{"880002", "880003"}},
		{order.Shopee, "12", "880001", `{"code":12}`, subscriber.AuthExpiring, []string{"880001"}},
		{order.Shopee, "1", "880001", `{"code":1}`, subscriber.AuthNone, nil},
		{order.Shopee, "5", "880001", `{"code":5}`, subscriber.AuthNone, nil},
		{order.Lazada, "8", "1000001", `{"message_type":8}`, subscriber.AuthExpiring, []string{"1000001"}},
		{order.Lazada, "2", "1000001", `{}`, subscriber.AuthNone, nil},
		{order.TikTok, "6", "749", `{"type":6}`, subscriber.AuthRevoked, []string{"749"}},
		{order.TikTok, "7", "749", `{"type":7}`, subscriber.AuthExpiring, []string{"749"}},
		{order.TikTok, "2", "749", `{"type":2}`, subscriber.AuthNone, nil},
	} {
		e := order.Event{Platform: tc.p, PushType: tc.typ, ShopID: tc.shopID, Kind: order.KindNotice, Payload: []byte(tc.payload)}
		change, ids := subscriber.ClassifyAuthPush(&e)
		if change != tc.change || !slices.Equal(ids, tc.ids) {
			t.Errorf("%s %s: %v %v, want %v %v", tc.p, tc.typ, change, ids, tc.change, tc.ids)
		}
	}
}

// fakeShops is a shop store of connections in memory.
type fakeShops struct {
	conns map[string]shop.Connection
	err   error
}

func (f *fakeShops) Update(_ context.Context, p order.Platform, id string, fn func(*shop.Connection) error) (shop.Connection, error) {
	if f.err != nil {
		return shop.Connection{}, f.err
	}
	c, ok := f.conns[string(p)+"/"+id]
	if !ok {
		return shop.Connection{}, shop.ErrNotFound
	}
	if err := fn(&c); err != nil {
		return shop.Connection{}, err
	}
	f.conns[string(p)+"/"+id] = c
	return c, nil
}

func TestShopsHandler(t *testing.T) {
	t.Parallel()
	st := &fakeShops{conns: map[string]shop.Connection{}}
	for _, k := range []string{"tiktok/1", "tiktok/2"} {
		st.conns[k] = shop.Connection{State: shop.Connected}
	}
	h := subscriber.NewShops(st, quiet)
	deliver := func(e order.Event) error {
		data, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return h.Handle(context.Background(), &bus.Delivery{Message: bus.Message{Data: data}, Seq: 1})
	}
	notice := func(typ, id string) order.Event {
		return order.Event{Platform: order.TikTok, ShopID: id, Kind: order.KindNotice, PushType: typ, Key: "k" + typ + id, Payload: []byte(`{}`)}
	}
	for _, e := range []order.Event{notice("6", "1"), notice("7", "2"), notice("6", "9")} {
		if err := deliver(e); err != nil {
			t.Fatalf("%s/%s: %v", e.PushType, e.ShopID, err)
		}
	}
	if c := st.conns["tiktok/1"]; c.State != shop.Revoked || c.LastError == "" {
		t.Fatalf("after type 6: %+v", c)
	}
	if c := st.conns["tiktok/2"]; c.State != shop.Connected || c.LastError == "" {
		t.Fatalf("after type 7: %+v", c)
	}
	st.err = order.ErrUnavailable
	if err := deliver(notice("6", "2")); !errors.Is(err, order.ErrUnavailable) || bus.IsPermanent(err) {
		t.Fatalf("store down: %v, want a retryable unavailable error", err)
	}
	if err := h.Handle(context.Background(), &bus.Delivery{Message: bus.Message{Data: []byte("not json")}, Seq: 2}); !bus.IsPermanent(err) {
		t.Fatalf("garbage: %v, want permanent", err)
	}
}
