package config_test

import (
	"strings"
	"testing"

	"github.com/orderlane/orderlane/config"
)

func TestNATSSettings(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"ORDERLANE_NATS_URL":      "nats://n1:4222,nats://n2:4222,nats://n3:4222",
		"ORDERLANE_NATS_USER":     "orderlane",
		"ORDERLANE_NATS_PASSWORD": "hunter2",
		"ORDERLANE_NATS_TLS_CA":   "/etc/orderlane/nats-ca.pem",
	}
	var c config.Config
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.NATS.URL != env["ORDERLANE_NATS_URL"] || c.NATS.User != "orderlane" || c.NATS.Password != "hunter2" || c.NATS.Replicas != 3 {
		t.Fatalf("nats settings: %+v", c.NATS)
	}
	if n := (config.Config{}).WithDefaults().NATS; n.URL != "" || n.Replicas != 1 {
		t.Fatalf("defaults: %+v, want the embedded server with 1 replica", n)
	}
	for _, bad := range []config.NATS{
		{Replicas: 3},                        // embedded is one node
		{URL: "nats://n1:4222", Replicas: 2}, // no majority after a loss
		{URL: "http://n1:4222"},              // not a NATS URL
		{URL: "nats://n1:4222", Creds: "/c", User: "u", Password: "hunter2"},
		{URL: "nats://n1:4222", User: "u"},   // no password
		{Creds: "/etc/orderlane/nats.creds"}, // credentials without a URL
	} {
		err := config.Config{NATS: bad}.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), "nats.") {
			t.Fatalf("%+v: %v, want an error naming the nats field", bad, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
}
