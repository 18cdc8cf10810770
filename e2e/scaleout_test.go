package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/internal/natstest"
	"github.com/orderlane/orderlane/internal/pgtest"
	"github.com/orderlane/orderlane/simulate"
)

// deployment is orderlane split over processes, as docs/deploy.md lays it
// out: a 3-node NATS cluster, PostgreSQL, a gateway+api instance, and
// worker instances, each its own `orderlane serve --roles ...` process.
type deployment struct {
	t          testing.TB
	nats       *natstest.Cluster
	db         pgtest.Schema
	partitions int
	out        *logBuffer
}

type instance struct {
	addr string
	p    *proc
}

func newDeployment(t testing.TB, partitions int) *deployment {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: runs orderlane processes on a NATS cluster; skipped under -short")
	}
	db := pgtest.New(t, "orderlane_e2e") // skips without ORDERLANE_TEST_DATABASE_URL
	d := &deployment{t: t, nats: natstest.Start(t, 3), db: db, partitions: partitions, out: &logBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("orderlane output:\n%s", d.out.tail(256<<10))
		}
	})
	return d
}

// start runs one instance with the given roles and waits until it is
// ready. name is also its worker id.
func (d *deployment) start(name, roles string) *instance {
	d.t.Helper()
	in := d.spawn(name, roles)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + in.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return in
			}
		}
		if in.p.exited() || time.Now().After(deadline) {
			d.t.Fatalf("%s not ready (exited: %v, err %v)", name, in.p.exited(), in.p.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// spawn starts one instance without waiting for it.
func (d *deployment) spawn(name, roles string) *instance {
	d.t.Helper()
	addr := freeAddr(d.t)
	env := append(environWithout("ORDERLANE_"),
		"ORDERLANE_HTTP_ADDR="+addr,
		"ORDERLANE_DATA_DIR="+d.t.TempDir(),
		"ORDERLANE_API_TOKEN="+apiToken,
		"ORDERLANE_NATS_URL="+d.nats.URL(),
		"ORDERLANE_DATABASE_URL="+d.db.URL,
		"ORDERLANE_ROLES="+roles,
		"ORDERLANE_WORKER_ID="+name,
		"ORDERLANE_PARTITIONS="+strconv.Itoa(d.partitions),
		"ORDERLANE_LEASE_TTL=3s",
		"ORDERLANE_SHOPEE_PUSH_KEY="+shopeePushKey,
		"ORDERLANE_SHOPEE_CALLBACK_URL=https://seller.example/webhooks/shopee",
		"ORDERLANE_LAZADA_APP_KEY="+lazadaAppKey,
		"ORDERLANE_LAZADA_APP_SECRET="+lazadaSecret,
		"ORDERLANE_TIKTOK_APP_KEY="+tiktokAppKey,
		"ORDERLANE_TIKTOK_APP_SECRET="+tiktokSecret,
	)
	fmt.Fprintf(d.out, "----- %s (%s) -----\n", name, roles)
	p, err := startProc(binPath, env, prefixed{d.out, name})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() {
		if !p.exited() {
			p.kill()
		}
	})
	in := &instance{addr: addr, p: p}
	return in
}

// prefixed tags every write with the instance name.
type prefixed struct {
	w    *logBuffer
	name string
}

func (p prefixed) Write(b []byte) (int, error) {
	_, _ = p.w.Write([]byte(p.name + ": "))
	return p.w.Write(b)
}

// owners reads who holds each partition of the orders subscription from
// the lease bucket.
func (d *deployment) owners(ctx context.Context) (map[int]string, error) {
	nc, err := nats.Connect(d.nats.URL())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, "ORDERLANE_LEASES")
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for p := range d.partitions {
		e, err := kv.Get(ctx, fmt.Sprintf("l.ORDERLANE_EVENTS.orders.%d", p))
		if err != nil {
			continue
		}
		out[p] = string(e.Value())
	}
	return out, nil
}

// holders lists the distinct workers holding partitions, sorted.
func holders(own map[int]string) []string {
	var hs []string
	for _, w := range own {
		hs = append(hs, w)
	}
	slices.Sort(hs)
	return slices.Compact(hs)
}

// checkStore checks PostgreSQL directly: each order's history was applied
// in topic order (sequences increase with insertion), and each order's
// event count equals its history (no event applied twice).
func (d *deployment) checkStore(ctx context.Context) (orders, events int) {
	d.t.Helper()
	conn := d.db.Connect(d.t)
	rows, err := conn.Query(ctx, `SELECT platform, shop_id, order_id, seq FROM order_events ORDER BY platform, shop_id, order_id, id`)
	if err != nil {
		d.t.Fatal(err)
	}
	var bad []string
	last := map[string]int64{}
	for rows.Next() {
		var p, s, o string
		var seq int64
		if err := rows.Scan(&p, &s, &o, &seq); err != nil {
			d.t.Fatal(err)
		}
		k := p + ":" + s + ":" + o
		if prev, ok := last[k]; ok && seq <= prev {
			bad = append(bad, fmt.Sprintf("%s: seq %d applied after %d", k, seq, prev))
		}
		last[k] = seq
		events++
	}
	if err := rows.Err(); err != nil {
		d.t.Fatal(err)
	}
	var mismatched int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM orders o WHERE o.event_count <>
		(SELECT count(*) FROM order_events e WHERE e.platform = o.platform AND e.shop_id = o.shop_id AND e.order_id = o.order_id)`).Scan(&mismatched); err != nil {
		d.t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&orders); err != nil {
		d.t.Fatal(err)
	}
	if len(bad) > 0 || mismatched > 0 {
		d.t.Fatalf("store: %d events out of topic order (first %v), %d orders whose count differs from their history", len(bad), bad[:min(len(bad), 5)], mismatched)
	}
	return orders, events
}

// TestScaleOutWorkers runs a randomized sale against a gateway instance
// while two, then three worker processes share the partitions; one worker
// is killed with SIGKILL and one NATS node is shut down mid-storm. Every
// order ends in its right state, every event is applied once and in topic
// order, and the killed worker's partitions end up with the others.
func TestScaleOutWorkers(t *testing.T) {
	d := newDeployment(t, 6)
	gw := d.start("gw", "gateway,api")
	w1 := d.start("w1", "worker")
	d.start("w2", "worker")

	ctx := context.Background()
	const orders = 400
	type result struct {
		rep simulate.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := simulate.Run(ctx, simulate.Options{
			BaseURL: "http://" + gw.addr, APIToken: apiToken,
			Shopee: config.Shopee{PushKey: shopeePushKey, CallbackURL: "https://seller.example/webhooks/shopee"},
			Lazada: config.Lazada{AppKey: lazadaAppKey, AppSecret: lazadaSecret},
			TikTok: config.TikTok{AppKey: tiktokAppKey, AppSecret: tiktokSecret},
			Orders: orders, Concurrency: 16, DuplicateRatio: 0.2, ShuffleRatio: 0.5,
			Rate: 400, ApplyTimeout: 120 * time.Second,
		})
		done <- result{rep, err}
	}()
	time.Sleep(2 * time.Second)
	d.start("w3", "worker")
	time.Sleep(2 * time.Second)
	t.Log("SIGKILL w1")
	w1.p.kill()
	time.Sleep(time.Second)
	t.Logf("shutting down NATS node %s", d.nats.Nodes[1].Name())
	d.nats.Nodes[1].Shutdown()

	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	rep := res.rep
	t.Logf("sale: %d orders, %d pushes (%d duplicates), accepted %d, failed %d, retries %d, %.0f/s; correct %d, ordering violations %d, missing %d",
		rep.Orders, rep.PushesSent, rep.DuplicatesSent, rep.Accepted, rep.Failed, rep.Retries, rep.AcceptedPerSec,
		rep.OrdersCorrect, rep.OrderingViolations, rep.MissingEvents)
	if !rep.OK() {
		t.Fatalf("sale not converged: %+v", rep.Wrong[:min(len(rep.Wrong), 5)])
	}
	n, events := d.checkStore(ctx)
	if n != orders {
		t.Fatalf("%d orders in PostgreSQL, want %d", n, orders)
	}
	// The killed worker's leases expire (3s); w2 and w3 hold everything.
	deadline := time.Now().Add(20 * time.Second)
	for {
		own, err := d.owners(ctx)
		hs := holders(own)
		if err == nil && len(own) == d.partitions && !slices.Contains(hs, "w1") && len(hs) == 2 {
			t.Logf("%d events applied; partitions now held by %v: %v", events, hs, own)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions after w1 was killed: %v (err %v); want all held by w2 and w3", own, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// BenchmarkWorkers measures how fast 1, 2 and 3 worker processes apply a
// backlog: a gateway instance takes a sale's pushes with no worker
// running, then the workers start and the clock runs until PostgreSQL
// holds every event. Reported as events/s (the whole machine's 2 cores
// are shared by the cluster, the database and the workers).
func BenchmarkWorkers(b *testing.B) {
	for _, workers := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for range b.N {
				benchWorkers(b, workers)
			}
		})
	}
}

func benchWorkers(b *testing.B, workers int) {
	b.StopTimer()
	d := newDeployment(b, 6)
	gw := d.start("gw", "gateway,api")
	ctx := context.Background()
	rep, err := simulate.Run(ctx, simulate.Options{
		BaseURL: "http://" + gw.addr, APIToken: apiToken,
		Shopee: config.Shopee{PushKey: shopeePushKey, CallbackURL: "https://seller.example/webhooks/shopee"},
		Lazada: config.Lazada{AppKey: lazadaAppKey, AppSecret: lazadaSecret},
		TikTok: config.TikTok{AppKey: tiktokAppKey, AppSecret: tiktokSecret},
		Orders: 2000, Concurrency: 32, DuplicateRatio: -1, ShuffleRatio: -1, SendOnly: true,
	})
	if err != nil || rep.Failed > 0 {
		b.Fatalf("preload: %v (%d failed)", err, rep.Failed)
	}
	want := rep.Accepted
	conn := d.db.Connect(b)
	b.StartTimer()
	start := time.Now()
	for i := range workers {
		d.spawn(fmt.Sprintf("w%d", i+1), "worker") // start-up (~0.3s) counts in the time
	}
	var (
		settledAt time.Time
		settledN  int
	)
	for {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM order_events`).Scan(&n); err != nil && !strings.Contains(err.Error(), "does not exist") {
			b.Fatal(err)
		}
		if n >= want {
			break
		}
		if settledAt.IsZero() {
			// Ownership settled: every partition held, spread over all
			// the workers. From here on the rate is the steady one.
			if own, err := d.owners(ctx); err == nil && len(own) == d.partitions && len(holders(own)) == workers {
				settledAt, settledN = time.Now(), n
			}
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d of %d events applied after 5 minutes", n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(want)/el.Seconds(), "events/s")
	if !settledAt.IsZero() && want > settledN {
		b.ReportMetric(float64(want-settledN)/time.Since(settledAt).Seconds(), "settled-events/s")
	}
	b.ReportMetric(0, "ns/op")
}
