package lazada_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
)

// ExampleClient connects a shop and reads an order, against the sandbox's
// Lazada (in production, leave BaseURL empty: the shop's region picks the
// host).
func ExampleClient() {
	now := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	sale := sandbox.NewSale(func() time.Time { return now })
	sale.SetApp(order.Lazada, sandbox.App{Key: "123456", Secret: "app-secret"})
	sale.AddShop(sandbox.Shop{Platform: order.Lazada, ShopID: "1000143772", Region: "sg"})
	sale.Put(sandbox.Order{Platform: order.Lazada, ShopID: "1000143772", OrderID: "260422900198363",
		Status: "pending", CreateTime: now, UpdateTime: now, Currency: "SGD", ShippingFee: "1.5",
		Units: []sandbox.Unit{
			{LineID: "1", SKU: "MUG", Name: "Mug", UnitPrice: "12", PaidPrice: "10"},
			{LineID: "2", SKU: "MUG", Name: "Mug", UnitPrice: "12", PaidPrice: "10"},
		}})
	srv := httptest.NewServer(lazadasim.New(sale, lazadasim.Config{Clock: func() time.Time { return now }}).Handler())
	defer srv.Close()

	client, err := lazada.NewClient(lazada.ClientConfig{AppKey: "123456", AppSecret: "app-secret",
		BaseURL: srv.URL + "/rest", Now: func() time.Time { return now }})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// The seller's authorisation callback brings a code.
	shop, err := client.ExchangeCode(ctx, sale.AuthCode(order.Lazada, "1000143772"), marketplace.Shop{})
	if err != nil {
		fmt.Println(err)
		return
	}
	orders, err := client.Orders(ctx, shop, []string{"260422900198363", "1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := orders["260422900198363"]
	fmt.Println(shop.ShopID, shop.Region, len(orders), d.Status, d.Items[0].SKU, d.Items[0].Quantity, d.Total, d.Currency)
	// Output: 1000143772 sg 1 pending MUG 2 21.5 SGD
}
