package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/api"
	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/store/sqlite"
)

// admin is an API over a real embedded JetStream bus with one subscription
// ("orders") that rejects payloads starting with "poison" until fixed.
type admin struct {
	srv   *httptest.Server
	bus   *jetstream.Bus
	sub   bus.Subscription
	fixed atomic.Bool
	done  atomic.Int32 // payloads handled successfully
}

func setupAdmin(t *testing.T) *admin {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	b, err := jetstream.New(context.Background(), e.Conn, jetstream.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a := &admin{bus: b}
	a.sub, err = b.Subscribe(context.Background(), bus.SubscriptionConfig{Name: "orders"}, func(ctx context.Context, d *bus.Delivery) error {
		if strings.HasPrefix(string(d.Data), `"poison`) && !a.fixed.Load() {
			return bus.Permanent(errors.New("rejected"))
		}
		a.done.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.sub.Stop(context.Background()) })
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := api.New(api.Config{
		Token: token, Logger: quiet, DeadLetters: b,
		Subscriptions: func(ctx context.Context) []bus.Stats { return []bus.Stats{a.sub.Stats(ctx)} },
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(h)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *admin) publish(t *testing.T, id, group, data string) {
	t.Helper()
	subject := strings.SplitN(group, ":", 2)[0] + ".order"
	if _, err := a.bus.Publish(context.Background(), bus.Message{ID: id, Subject: subject, Group: group, Data: []byte(data)}); err != nil {
		t.Fatal(err)
	}
}

func (a *admin) do(t *testing.T, method, path, tok string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

type deadLetterView struct {
	ID, Subscription, Group, Subject, Reason, Error string
	MsgID                                           string `json:"msg_id"`
	Attempts                                        int
	Event                                           json.RawMessage
}

type dlPage struct {
	DeadLetters []deadLetterView `json:"dead_letters"`
	NextCursor  string           `json:"next_cursor"`
}

func (a *admin) list(t *testing.T, query string) dlPage {
	t.Helper()
	status, body := a.do(t, http.MethodGet, "/api/v1/deadletters"+query, token)
	var p dlPage
	if status != 200 || json.Unmarshal(body, &p) != nil {
		t.Fatalf("GET /api/v1/deadletters%s: %d %s", query, status, body)
	}
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

// TestDeadLettersAPI walks the admin API: list with each filter and
// paging, get one with its event, replay one (applied, then gone),
// discard one, replay by filter, and the errors.
func TestDeadLettersAPI(t *testing.T) {
	t.Parallel()
	a := setupAdmin(t)
	a.publish(t, "s1", "shopee:1:A", `"poison-a"`)
	a.publish(t, "l1", "lazada:2:B", `"poison-b"`)
	a.publish(t, "t1", "tiktok:3:C", `"poison-c"`)
	a.publish(t, "s2", "shopee:1:D", `"fine"`)
	waitFor(t, "three dead letters", func() bool { return len(a.list(t, "").DeadLetters) == 3 })

	all := a.list(t, "?subscription=orders")
	if len(all.DeadLetters) != 3 || all.NextCursor != "" {
		t.Fatalf("list: %+v", all)
	}
	// Three groups fail at once: their dead letters may land in any order.
	var first deadLetterView
	for _, dl := range all.DeadLetters {
		if dl.Group == "shopee:1:A" {
			first = dl
		}
	}
	if first.Group != "shopee:1:A" || first.Subject != "shopee.order" || first.MsgID != "s1" ||
		first.Reason != bus.ReasonPermanent || first.Error != "rejected" || first.Attempts != 1 || first.Event != nil {
		t.Errorf("first dead letter: %+v", first)
	}
	for q, want := range map[string]int{
		"?platform=shopee":                  1,
		"?group=lazada:2:B":                 1,
		"?subscription=audit":               0,
		"?since=2999-01-01T00:00:00Z":       0,
		"?since=2000-01-01T00:00:00Z":       3,
		"?platform=tiktok&group=tiktok:3:C": 1,
	} {
		if got := len(a.list(t, q).DeadLetters); got != want {
			t.Errorf("GET /api/v1/deadletters%s: %d dead letters, want %d", q, got, want)
		}
	}
	page := a.list(t, "?limit=2")
	if len(page.DeadLetters) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %+v", page)
	}
	rest := a.list(t, "?limit=2&cursor="+page.NextCursor)
	groups := map[string]bool{}
	for _, dl := range append(page.DeadLetters, rest.DeadLetters...) {
		groups[dl.Group] = true
	}
	if len(rest.DeadLetters) != 1 || len(groups) != 3 {
		t.Errorf("pages: %+v then %+v, want the three dead letters once", page, rest)
	}

	status, body := a.do(t, http.MethodGet, "/api/v1/deadletters/"+first.ID, token)
	var one struct{ Event json.RawMessage }
	if status != 200 || json.Unmarshal(body, &one) != nil || string(one.Event) != `"poison-a"` {
		t.Fatalf("GET one: %d %s", status, body)
	}

	a.fixed.Store(true)
	status, body = a.do(t, http.MethodPost, "/api/v1/deadletters/"+first.ID+"/replay", token)
	if status != http.StatusAccepted || !strings.Contains(string(body), `"seq":`) {
		t.Fatalf("replay: %d %s", status, body)
	}
	waitFor(t, "the replay to be handled and its dead letter to go", func() bool {
		status, _ := a.do(t, http.MethodGet, "/api/v1/deadletters/"+first.ID, token)
		return status == http.StatusNotFound && a.done.Load() == 2
	})

	lazada := a.list(t, "?platform=lazada").DeadLetters[0]
	if status, body := a.do(t, http.MethodDelete, "/api/v1/deadletters/"+lazada.ID, token); status != http.StatusNoContent {
		t.Fatalf("discard: %d %s", status, body)
	}
	if status, body := a.do(t, http.MethodDelete, "/api/v1/deadletters/"+lazada.ID, token); status != 404 || errCode(t, body) != httperror.CodeNotFound {
		t.Errorf("discard again: %d %s", status, body)
	}

	if status, body := a.do(t, http.MethodPost, "/api/v1/deadletters/replay", token); status != 400 {
		t.Errorf("replay by no filter: %d %s, want 400", status, body)
	}
	status, body = a.do(t, http.MethodPost, "/api/v1/deadletters/replay?platform=tiktok", token)
	var res struct{ Replayed []struct{ ID string } }
	if status != http.StatusAccepted || json.Unmarshal(body, &res) != nil || len(res.Replayed) != 1 {
		t.Fatalf("replay by filter: %d %s", status, body)
	}
	waitFor(t, "every dead letter resolved", func() bool { return len(a.list(t, "").DeadLetters) == 0 && a.done.Load() == 3 })
}

func TestDeadLettersAPIErrors(t *testing.T) {
	t.Parallel()
	a := setupAdmin(t)
	for _, tc := range []struct {
		method, path, tok string
		status            int
		code              string
	}{
		{"GET", "/api/v1/deadletters", "", 401, httperror.CodeUnauthorized},
		{"POST", "/api/v1/deadletters/1/replay", "wrong", 401, httperror.CodeUnauthorized},
		{"DELETE", "/api/v1/deadletters/1", "", 401, httperror.CodeUnauthorized},
		{"GET", "/api/v1/subscriptions", "", 401, httperror.CodeUnauthorized},
		{"GET", "/api/v1/deadletters/1", token, 404, httperror.CodeNotFound},
		{"GET", "/api/v1/deadletters/abc", token, 404, httperror.CodeNotFound},
		{"POST", "/api/v1/deadletters/99/replay", token, 404, httperror.CodeNotFound},
		{"DELETE", "/api/v1/deadletters/99", token, 404, httperror.CodeNotFound},
		{"GET", "/api/v1/deadletters?platform=amazon", token, 400, httperror.CodeBadRequest},
		{"GET", "/api/v1/deadletters?since=yesterday", token, 400, httperror.CodeBadRequest},
		{"GET", "/api/v1/deadletters?limit=0", token, 400, httperror.CodeBadRequest},
		{"GET", "/api/v1/deadletters?cursor=x", token, 400, httperror.CodeBadRequest},
	} {
		status, body := a.do(t, tc.method, tc.path, tc.tok)
		if status != tc.status || errCode(t, body) != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, status, body, tc.status, tc.code)
		}
	}
}

// TestSubscriptionsAPI: the stuck-work view of each subscription.
func TestSubscriptionsAPI(t *testing.T) {
	t.Parallel()
	a := setupAdmin(t)
	a.publish(t, "s1", "shopee:1:A", `"fine"`)
	waitFor(t, "the message", func() bool { return a.done.Load() == 1 })
	status, body := a.do(t, http.MethodGet, "/api/v1/subscriptions", token)
	var res struct {
		Subscriptions []map[string]any `json:"subscriptions"`
	}
	if status != 200 || json.Unmarshal(body, &res) != nil || len(res.Subscriptions) != 1 {
		t.Fatalf("GET /api/v1/subscriptions: %d %s", status, body)
	}
	s := res.Subscriptions[0]
	for _, k := range []string{"pending", "lag", "held", "groups", "in_flight", "retrying", "blocked",
		"oldest_unacked_seconds", "paused", "handled", "retries", "dead_lettered", "redeliveries", "outage_retries", "pauses", "partitions"} {
		if _, ok := s[k]; !ok {
			t.Errorf("subscription state lacks %q: %s", k, body)
		}
	}
	if s["name"] != "orders" || s["handled"] != 1.0 {
		t.Errorf("subscription state: %s", body)
	}
}
