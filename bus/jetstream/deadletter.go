package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orderlane/orderlane/bus"
)

// Dead-letter and replay headers, beside those in jetstream.go.
const (
	// HeaderReason is bus.ReasonPermanent, bus.ReasonMaxAttempts or
	// bus.ReasonMaxAge.
	HeaderReason = "Orderlane-Reason"
	// HeaderOriginalID is the original message's Nats-Msg-Id, kept on its
	// dead letters and replays (which carry their own IDs).
	HeaderOriginalID = "Orderlane-Original-Id"
	// HeaderPublishedAt is when the original message was first appended.
	HeaderPublishedAt = "Orderlane-Published-At"
	// HeaderReplays counts how many times the message was replayed.
	HeaderReplays = "Orderlane-Replays"
	// HeaderReplayFor names the only subscription a replayed message is
	// for; every other subscription acknowledges it unseen.
	HeaderReplayFor = "Orderlane-Replay-For"
	// HeaderReplayOf is the ID of the dead letter a message replays.
	HeaderReplayOf = "Orderlane-Replay-Of"
)

// deadLetterDedupWindow is how long the dead-letter stream remembers
// dead-letter IDs (<subscription>:<topic seq>). A restart hands over again
// everything after the consumer's ack floor, dead-lettered messages
// included; within this window their second failure writes no second dead
// letter (and one already replayed or discarded stays resolved). Dead
// letters are few, so the IDs held in memory are too.
const deadLetterDedupWindow = 7 * 24 * time.Hour

// maxScan bounds how many dead letters one listing reads.
const maxScan = 100_000

// publishDeadLetter copies m to the dead-letter stream and returns the
// dead letter's ID (its sequence there). Publishing the same message again
// (a retry after a lost answer, or after a crash before the ack) appends
// nothing and returns the first copy's ID.
func (b *Bus) publishDeadLetter(ctx context.Context, name string, m jetstream.Msg, seq uint64, published time.Time,
	attempts int, reason string, cause error) (uint64, error) {
	hdr := nats.Header{}
	for k, v := range m.Headers() {
		hdr[k] = v
	}
	origID := hdr.Get(HeaderOriginalID)
	if origID == "" {
		origID = hdr.Get(jetstream.MsgIDHeader)
	}
	hdr.Del(HeaderReplayFor)
	hdr.Del(HeaderReplayOf)
	if origID != "" {
		hdr.Set(HeaderOriginalID, origID)
	}
	if hdr.Get(HeaderPublishedAt) == "" && !published.IsZero() {
		hdr.Set(HeaderPublishedAt, published.UTC().Format(time.RFC3339Nano))
	}
	errText := cause.Error()
	if len(errText) > 1024 {
		errText = errText[:1024]
	}
	hdr.Set(HeaderSubscription, name)
	hdr.Set(HeaderReason, reason)
	hdr.Set(HeaderError, errText)
	hdr.Set(HeaderAttempts, strconv.Itoa(attempts))
	hdr.Set(HeaderOriginalSeq, strconv.FormatUint(seq, 10))
	hdr.Set(HeaderOriginalSubj, m.Subject())
	hdr.Set(HeaderFailedAt, time.Now().UTC().Format(time.RFC3339Nano))
	// One dead letter per (subscription, original message), even if this
	// publish is retried.
	hdr.Set(jetstream.MsgIDHeader, name+":"+strconv.FormatUint(seq, 10))
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: b.DeadLetterSubject(name), Data: m.Data(), Header: hdr})
	if err != nil {
		return 0, fmt.Errorf("jetstream: dead-letter: %w", err)
	}
	// The original is acknowledged next: with group commit its dead
	// letter must be fsynced first.
	if err := b.commit(ctx, b.cfg.DeadLetterStream, ack.Sequence); err != nil {
		return 0, fmt.Errorf("jetstream: dead-letter: %w", err)
	}
	return ack.Sequence, nil
}

func (b *Bus) deadLetterStream(ctx context.Context) (jetstream.Stream, error) {
	s, err := b.js.Stream(ctx, b.cfg.DeadLetterStream)
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", b.cfg.DeadLetterStream, err)
	}
	return s, nil
}

// ListDeadLetters returns the dead letters that match f, oldest first, and
// the After of the next page (0 when this page is the last).
func (b *Bus) ListDeadLetters(ctx context.Context, f bus.DeadLetterFilter) ([]bus.DeadLetter, uint64, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	out := []bus.DeadLetter{}
	var next uint64
	err := b.scanDeadLetters(ctx, f.Subscription, f.After, func(d bus.DeadLetter) bool {
		if !f.Match(d) {
			return true
		}
		if len(out) == f.Limit {
			next = out[len(out)-1].ID
			return false
		}
		out = append(out, d)
		return true
	})
	return out, next, err
}

// scanDeadLetters calls fn on each dead letter of subscription (all when
// empty) with an ID above after, in order, until fn returns false.
func (b *Bus) scanDeadLetters(ctx context.Context, subscription string, after uint64, fn func(bus.DeadLetter) bool) error {
	stream, err := b.deadLetterStream(ctx)
	if err != nil {
		return err
	}
	subject := b.cfg.DeadLetterSubjects + ".>"
	if subscription != "" {
		subject = b.DeadLetterSubject(subscription)
	}
	seq := after + 1
	for range maxScan {
		raw, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("jetstream: read dead letters: %w", err)
		}
		if !fn(b.decodeDeadLetter(raw)) {
			return nil
		}
		seq = raw.Sequence + 1
	}
	return nil
}

// GetDeadLetter returns one dead letter, or bus.ErrDeadLetterNotFound.
func (b *Bus) GetDeadLetter(ctx context.Context, id uint64) (bus.DeadLetter, error) {
	raw, err := b.rawDeadLetter(ctx, id)
	if err != nil {
		return bus.DeadLetter{}, err
	}
	return b.decodeDeadLetter(raw), nil
}

func (b *Bus) rawDeadLetter(ctx context.Context, id uint64) (*jetstream.RawStreamMsg, error) {
	if id == 0 {
		return nil, bus.ErrDeadLetterNotFound
	}
	stream, err := b.deadLetterStream(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := stream.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) ||
		(err == nil && !strings.HasPrefix(raw.Subject, b.cfg.DeadLetterSubjects+".")) {
		return nil, bus.ErrDeadLetterNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: read dead letter %d: %w", id, err)
	}
	return raw, nil
}

// ReplayDeadLetter appends the dead letter's message to the topic again,
// in its group, for its subscription only. The dead letter stays until the
// subscription has handled the replay (then it is deleted; if the replay
// fails in turn, a new dead letter takes its place), so a crash in between
// loses nothing. Replaying the same dead letter again within the dedup
// window appends nothing (Duplicate).
func (b *Bus) ReplayDeadLetter(ctx context.Context, id uint64) (bus.ReplayResult, error) {
	raw, err := b.rawDeadLetter(ctx, id)
	if err != nil {
		return bus.ReplayResult{}, err
	}
	d := b.decodeDeadLetter(raw)
	subject := raw.Header.Get(HeaderOriginalSubj)
	if d.Subscription == "" || d.Group == "" || !strings.HasPrefix(subject, b.cfg.Subjects+".") {
		return bus.ReplayResult{}, fmt.Errorf("jetstream: dead letter %d lacks its subscription, group or subject", id)
	}
	idText := strconv.FormatUint(id, 10)
	hdr := nats.Header{}
	hdr.Set(HeaderGroup, d.Group)
	// Derived from the dead letter: a second replay within the dedup
	// window is dropped by the broker.
	hdr.Set(jetstream.MsgIDHeader, "orderlane-replay:"+d.Subscription+":"+idText)
	hdr.Set(HeaderReplayFor, d.Subscription)
	hdr.Set(HeaderReplayOf, idText)
	hdr.Set(HeaderReplays, strconv.Itoa(d.Replays+1))
	if d.MsgID != "" {
		hdr.Set(HeaderOriginalID, d.MsgID)
	}
	if !d.Published.IsZero() {
		hdr.Set(HeaderPublishedAt, d.Published.Format(time.RFC3339Nano))
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: raw.Data, Header: hdr})
	if err != nil {
		return bus.ReplayResult{}, fmt.Errorf("jetstream: replay dead letter %d: %w", id, err)
	}
	if err := b.commit(ctx, b.cfg.Stream, ack.Sequence); err != nil {
		return bus.ReplayResult{}, fmt.Errorf("jetstream: replay dead letter %d: %w", id, err)
	}
	return bus.ReplayResult{Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// DiscardDeadLetter deletes a dead letter for good. A group held by it
// (HoldOnDeadLetter) moves on within about a second.
func (b *Bus) DiscardDeadLetter(ctx context.Context, id uint64) error {
	if _, err := b.rawDeadLetter(ctx, id); err != nil {
		return err
	}
	stream, err := b.deadLetterStream(ctx)
	if err != nil {
		return err
	}
	if err := stream.DeleteMsg(ctx, id); err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return bus.ErrDeadLetterNotFound
		}
		return fmt.Errorf("jetstream: discard dead letter %d: %w", id, err)
	}
	return nil
}

// DeadLetterCounts counts the dead letters held, by subscription and
// reason, with the failure time of the oldest of each.
func (b *Bus) DeadLetterCounts(ctx context.Context) ([]bus.DeadLetterCount, error) {
	idx := map[[2]string]int{}
	var out []bus.DeadLetterCount
	err := b.scanDeadLetters(ctx, "", 0, func(d bus.DeadLetter) bool {
		k := [2]string{d.Subscription, d.Reason}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, bus.DeadLetterCount{Subscription: d.Subscription, Reason: d.Reason, Oldest: d.FailedAt})
		}
		out[i].Count++
		if d.FailedAt.Before(out[i].Oldest) {
			out[i].Oldest = d.FailedAt
		}
		return true
	})
	return out, err
}

func (b *Bus) decodeDeadLetter(raw *jetstream.RawStreamMsg) bus.DeadLetter {
	h := raw.Header
	d := bus.DeadLetter{
		ID:           raw.Sequence,
		Subscription: h.Get(HeaderSubscription),
		Group:        h.Get(HeaderGroup),
		Subject:      b.relativeSubject(h.Get(HeaderOriginalSubj)),
		MsgID:        h.Get(HeaderOriginalID),
		Reason:       h.Get(HeaderReason),
		Error:        h.Get(HeaderError),
		Data:         raw.Data,
		FailedAt:     raw.Time.UTC(),
	}
	if d.Subscription == "" {
		d.Subscription = strings.TrimPrefix(raw.Subject, b.cfg.DeadLetterSubjects+".")
	}
	if d.Reason == "" { // written before reasons were recorded
		d.Reason = bus.ReasonMaxAttempts
	}
	d.Attempts, _ = strconv.Atoi(h.Get(HeaderAttempts))
	d.Replays, _ = strconv.Atoi(h.Get(HeaderReplays))
	d.OriginalSeq, _ = strconv.ParseUint(h.Get(HeaderOriginalSeq), 10, 64)
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderFailedAt)); err == nil {
		d.FailedAt = t
	}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderPublishedAt)); err == nil {
		d.Published = t
	}
	return d
}
