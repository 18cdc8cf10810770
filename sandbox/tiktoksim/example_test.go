package tiktoksim_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
)

// The TikTok client against the fake: connect a shop with the consent
// flow, then read an order whose three units are two SKUs.
func Example() {
	sale := sandbox.NewSale(nil)
	sale.SetApp(order.TikTok, sandbox.App{Key: "29a39d", Secret: "e59af819cc"})
	sale.AddShop(sandbox.Shop{Platform: order.TikTok, ShopID: "7494049642642441621", Cipher: "ROW_xkMbgAAAeVAQ", Region: "ID"})
	sale.Put(sandbox.Order{
		Platform: order.TikTok, ShopID: "7494049642642441621", OrderID: "576486316948490001",
		Status: "AWAITING_SHIPMENT", Currency: "IDR", ShippingFee: "10000",
		CreateTime: time.Unix(1644412800, 0), UpdateTime: time.Unix(1644412885, 0),
		Units: []sandbox.Unit{
			{LineID: "1", ItemID: "17", SKU: "batik-m", Name: "Batik shirt", UnitPrice: "150000", PaidPrice: "135000"},
			{LineID: "2", ItemID: "17", SKU: "batik-m", Name: "Batik shirt", UnitPrice: "150000", PaidPrice: "135000"},
			{LineID: "3", ItemID: "18", SKU: "sarong", Name: "Sarong", UnitPrice: "90000", PaidPrice: "90000"},
		},
	})
	srv := httptest.NewServer(tiktoksim.New(sale, tiktoksim.Config{}).Handler())
	defer srv.Close()

	client, err := tiktok.NewClient(tiktok.ClientConfig{AppKey: "29a39d", AppSecret: "e59af819cc",
		BaseURL: srv.URL, AuthBaseURL: srv.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	code := sale.AuthCode(order.TikTok, "7494049642642441621") // from the seller's consent
	shop, err := client.ExchangeCode(ctx, code, marketplace.Shop{ShopID: "7494049642642441621"})
	if err != nil {
		fmt.Println(err)
		return
	}
	details, err := client.Orders(ctx, shop, []string{"576486316948490001"})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := details["576486316948490001"]
	fmt.Println(shop.Cipher, d.Status, d.Total, d.Currency)
	for _, it := range d.Items {
		fmt.Println(it.SKU, it.Quantity, it.PaidPrice)
	}
	// Output:
	// ROW_xkMbgAAAeVAQ AWAITING_SHIPMENT 370000 IDR
	// batik-m 2 135000
	// sarong 1 90000
}
