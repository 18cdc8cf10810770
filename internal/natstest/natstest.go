// Package natstest starts real NATS JetStream clusters for tests: n
// nats-server instances of the module orderlane builds with (>= 2.14, which
// the consumer reset needs; the Debian nats-server on the build machine is
// 2.9), in the test's process, routed to each other over loopback TCP,
// each with its own store directory, listening for clients on loopback.
package natstest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a running cluster.
type Cluster struct {
	Nodes []*server.Server
	URLs  []string
}

// URL is the client URL list, comma separated (ORDERLANE_NATS_URL).
func (c *Cluster) URL() string { return strings.Join(c.URLs, ",") }

// Start starts an n-node cluster (stopped at the end of the test) and
// waits until it has elected its JetStream meta leader and every node is
// current.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	c := &Cluster{}
	for i, p := range ports {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "orderlane-test", Host: "127.0.0.1", Port: p},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoSigs:     true,
			NoLog:      true,
		})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("node %d not ready", i+1)
		}
		c.Nodes = append(c.Nodes, s)
		c.URLs = append(c.URLs, s.ClientURL())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		leaders, current := 0, 0
		for _, s := range c.Nodes {
			if s.JetStreamIsLeader() {
				leaders++
			}
			if s.JetStreamIsCurrent() {
				current++
			}
		}
		if leaders == 1 && current == n {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no JetStream meta leader after 30s (%d leaders, %d current)", leaders, current)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
