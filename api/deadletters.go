package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/order"
)

// DeadLetters is the dead-letter queue the admin API works on (the bus
// driver).
type DeadLetters interface {
	// ListDeadLetters returns a page of the dead letters matching f and
	// the After of the next page (0 on the last).
	ListDeadLetters(ctx context.Context, f bus.DeadLetterFilter) ([]bus.DeadLetter, uint64, error)
	// GetDeadLetter returns one, or bus.ErrDeadLetterNotFound.
	GetDeadLetter(ctx context.Context, id uint64) (bus.DeadLetter, error)
	// ReplayDeadLetter re-enters the message into its group for its
	// subscription; the dead letter goes once the replay is handled.
	ReplayDeadLetter(ctx context.Context, id uint64) (bus.ReplayResult, error)
	// DiscardDeadLetter deletes it for good.
	DiscardDeadLetter(ctx context.Context, id uint64) error
}

// deadLetterJSON is a dead letter on the wire.
type deadLetterJSON struct {
	ID           string     `json:"id"`
	Subscription string     `json:"subscription"`
	Group        string     `json:"group"`
	Subject      string     `json:"subject"`
	MsgID        string     `json:"msg_id,omitempty"`
	Reason       string     `json:"reason"`
	Error        string     `json:"error"`
	Attempts     int        `json:"attempts"`
	Replays      int        `json:"replays"`
	OriginalSeq  uint64     `json:"original_seq"`
	PublishedAt  *time.Time `json:"published_at,omitempty"`
	FailedAt     time.Time  `json:"failed_at"`
	AgeSeconds   float64    `json:"age_seconds"`
	// Event is the payload when it is JSON (an orderlane event is), else
	// DataBase64 holds it. Only in GET /api/v1/deadletters/{id}.
	Event      json.RawMessage `json:"event,omitempty"`
	DataBase64 string          `json:"data_base64,omitempty"`
}

func toJSON(d bus.DeadLetter, withData bool, now time.Time) deadLetterJSON {
	j := deadLetterJSON{
		ID: strconv.FormatUint(d.ID, 10), Subscription: d.Subscription, Group: d.Group, Subject: d.Subject,
		MsgID: d.MsgID, Reason: d.Reason, Error: d.Error, Attempts: d.Attempts, Replays: d.Replays,
		OriginalSeq: d.OriginalSeq, FailedAt: d.FailedAt, AgeSeconds: now.Sub(d.FailedAt).Seconds(),
	}
	if !d.Published.IsZero() {
		p := d.Published
		j.PublishedAt = &p
	}
	if withData {
		if json.Valid(d.Data) {
			j.Event = d.Data
		} else {
			j.DataBase64 = base64.StdEncoding.EncodeToString(d.Data)
		}
	}
	return j
}

// deadLetterFilter reads the filters shared by listing and replaying by
// filter: subscription, group, platform, since (RFC 3339), cursor, limit.
func deadLetterFilter(r *http.Request) (bus.DeadLetterFilter, string) {
	q := r.URL.Query()
	f := bus.DeadLetterFilter{Subscription: q.Get("subscription"), Group: q.Get("group")}
	if p := order.Platform(q.Get("platform")); p != "" {
		if !p.Valid() {
			return f, "platform: want shopee, lazada or tiktok"
		}
		f.GroupPrefix = string(p) + ":"
	}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return f, "since: want an RFC 3339 time"
		}
		f.Since = t
	}
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return f, "cursor: not one this API issued"
		}
		f.After = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return f, "limit: want 1 to 1000"
		}
		f.Limit = n
	}
	return f, ""
}

func deadLetterID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound, "dead letter not found")
		return 0, false
	}
	return id, true
}

// failDeadLetter maps dead-letter queue errors to responses.
func (a *API) failDeadLetter(w http.ResponseWriter, err error) {
	if errors.Is(err, bus.ErrDeadLetterNotFound) {
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound, "dead letter not found")
		return
	}
	a.log.Error("api: dead letters", "err", err)
	w.Header().Set("Retry-After", "5")
	httperror.Write(w, http.StatusServiceUnavailable, httperror.CodeUnavailable, "the dead-letter stream is unavailable")
}

// GET /api/v1/deadletters?subscription=&group=&platform=&since=&cursor=&limit=
func (a *API) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	f, bad := deadLetterFilter(r)
	if bad != "" {
		httperror.Write(w, http.StatusBadRequest, httperror.CodeBadRequest, bad)
		return
	}
	dls, next, err := a.cfg.DeadLetters.ListDeadLetters(r.Context(), f)
	if err != nil {
		a.failDeadLetter(w, err)
		return
	}
	now := time.Now()
	out := make([]deadLetterJSON, len(dls))
	for i, d := range dls {
		out[i] = toJSON(d, false, now)
	}
	cursor := ""
	if next != 0 {
		cursor = strconv.FormatUint(next, 10)
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": out, "next_cursor": cursor})
}

// GET /api/v1/deadletters/{id}
func (a *API) getDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, ok := deadLetterID(w, r)
	if !ok {
		return
	}
	d, err := a.cfg.DeadLetters.GetDeadLetter(r.Context(), id)
	if err != nil {
		a.failDeadLetter(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(d, true, time.Now()))
}

type replayJSON struct {
	ID        string `json:"id"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

// POST /api/v1/deadletters/{id}/replay: 202, the subscription handles the
// replay asynchronously; the dead letter disappears once it has.
func (a *API) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, ok := deadLetterID(w, r)
	if !ok {
		return
	}
	res, err := a.cfg.DeadLetters.ReplayDeadLetter(r.Context(), id)
	if err != nil {
		a.failDeadLetter(w, err)
		return
	}
	a.log.Info("dead letter replayed", "dead_letter", id, "seq", res.Seq, "duplicate", res.Duplicate)
	writeJSON(w, http.StatusAccepted, replayJSON{ID: strconv.FormatUint(id, 10), Seq: res.Seq, Duplicate: res.Duplicate})
}

// POST /api/v1/deadletters/replay?subscription=&group=&platform=&since=&limit=:
// replays up to limit (default 100) matching dead letters, oldest first. A
// filter is required (all=true to replay everything).
func (a *API) replayDeadLetters(w http.ResponseWriter, r *http.Request) {
	f, bad := deadLetterFilter(r)
	if bad == "" && f == (bus.DeadLetterFilter{Limit: f.Limit}) && r.URL.Query().Get("all") != "true" {
		bad = "give a filter (subscription, group, platform, since), or all=true to replay every dead letter"
	}
	if bad != "" {
		httperror.Write(w, http.StatusBadRequest, httperror.CodeBadRequest, bad)
		return
	}
	dls, next, err := a.cfg.DeadLetters.ListDeadLetters(r.Context(), f)
	if err != nil {
		a.failDeadLetter(w, err)
		return
	}
	replayed := []replayJSON{}
	for _, d := range dls {
		res, err := a.cfg.DeadLetters.ReplayDeadLetter(r.Context(), d.ID)
		if errors.Is(err, bus.ErrDeadLetterNotFound) {
			continue // resolved meanwhile
		}
		if err != nil {
			a.failDeadLetter(w, err)
			return
		}
		replayed = append(replayed, replayJSON{ID: strconv.FormatUint(d.ID, 10), Seq: res.Seq, Duplicate: res.Duplicate})
	}
	a.log.Info("dead letters replayed by filter", "count", len(replayed), "subscription", f.Subscription,
		"group", f.Group, "group_prefix", f.GroupPrefix)
	cursor := ""
	if next != 0 {
		cursor = strconv.FormatUint(next, 10)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"replayed": replayed, "next_cursor": cursor})
}

// DELETE /api/v1/deadletters/{id}: 204.
func (a *API) discardDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, ok := deadLetterID(w, r)
	if !ok {
		return
	}
	if err := a.cfg.DeadLetters.DiscardDeadLetter(r.Context(), id); err != nil {
		a.failDeadLetter(w, err)
		return
	}
	a.log.Info("dead letter discarded", "dead_letter", id)
	w.WriteHeader(http.StatusNoContent)
}

// subscriptionJSON is a subscription's state on the wire.
type subscriptionJSON struct {
	Name                 string  `json:"name"`
	Pending              int64   `json:"pending"`
	Lag                  int64   `json:"lag"`
	Held                 int     `json:"held"`
	Groups               int     `json:"groups"`
	InFlight             int     `json:"in_flight"`
	Retrying             int     `json:"retrying"`
	Blocked              int     `json:"blocked"`
	OldestUnackedSeconds float64 `json:"oldest_unacked_seconds"`
	Paused               bool    `json:"paused"`
	Handled              uint64  `json:"handled"`
	Retries              uint64  `json:"retries"`
	DeadLettered         uint64  `json:"dead_lettered"`
	Redeliveries         uint64  `json:"redeliveries"`
	OutageRetries        uint64  `json:"outage_retries"`
	Pauses               uint64  `json:"pauses"`
	Partitions           int     `json:"partitions"`
}

// GET /api/v1/subscriptions
func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	out := []subscriptionJSON{}
	for _, st := range a.cfg.Subscriptions(ctx) {
		out = append(out, subscriptionJSON{
			Name: st.Name, Pending: st.Pending, Lag: st.Lag, Held: st.Held, Groups: st.Groups,
			InFlight: st.InFlight, Retrying: st.Retrying, Blocked: st.Blocked,
			OldestUnackedSeconds: st.OldestUnacked.Seconds(), Paused: st.Paused,
			Handled: st.Handled, Retries: st.Retries, DeadLettered: st.DeadLettered,
			Redeliveries: st.Redeliveries, OutageRetries: st.OutageRetries, Pauses: st.Pauses,
			Partitions: st.Partitions,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
}
