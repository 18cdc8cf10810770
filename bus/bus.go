// Package bus is the topic seam: publishers append messages once, and each
// named subscription consumes all of them independently, one message group
// strictly in order, different groups in parallel.
//
// Guarantees every driver gives (and the conformance suite in bustest
// checks):
//
//   - Publish returns only after the broker has durably appended the message
//     (as durable as the broker is configured to be) or reports an error.
//     Publishing the same ID twice within the broker's dedup window appends
//     once.
//   - A subscription hands a group's messages to its handler one at a time,
//     in append order; the next one only after the previous one was handled
//     successfully or dead-lettered.
//   - Delivery is at least once: after a crash or a lost acknowledgement a
//     message can be handed over again, so handlers must be idempotent
//     (Delivery.Seq is stable and increasing within a group).
//   - A failing handler is retried with exponential backoff and jitter,
//     holding only its own group. After MaxAttempts, once the message is
//     older than MaxAge, or at once for an error wrapped with Permanent, the
//     message goes to the subscription's dead-letter queue and the group
//     moves on (or, with HoldOnDeadLetter, waits until the dead letter is
//     replayed or discarded).
//   - An error wrapped with Unavailable (a dependency is down) pauses the
//     whole subscription with backoff instead of burning the group's
//     attempts: it never counts toward MaxAttempts or MaxAge and never
//     dead-letters.
//   - A dead letter can be replayed: the message re-enters its group, for
//     the subscription that dead-lettered it only.
package bus

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Message is one unit appended to the topic.
type Message struct {
	// ID is the idempotency key; the broker drops a second publish of the
	// same ID within its dedup window.
	ID string
	// Subject routes the message, as dot-separated tokens relative to the
	// topic ("shopee.order"). Subscriptions filter on it.
	Subject string
	// Group is the message group: messages of one group are delivered in
	// order. Required.
	Group string
	// Data is the payload.
	Data []byte
}

// PublishResult is the broker's receipt.
type PublishResult struct {
	// Seq is the message's position in the topic.
	Seq uint64
	// Duplicate is true when the ID had been published before within the
	// dedup window; nothing new was appended.
	Duplicate bool
}

// Delivery is a message handed to a subscription's handler.
type Delivery struct {
	Message
	// Seq is the message's position in the topic.
	Seq uint64
	// Attempt counts handler calls for this message in this process, from 1.
	Attempt int
	// Published is when the broker appended the message.
	Published time.Time
}

// Handler processes one delivery. A nil error acknowledges it.
type Handler func(ctx context.Context, d *Delivery) error

// SubscriptionConfig configures one durable subscription.
type SubscriptionConfig struct {
	// Name identifies the subscription; its progress is kept under this
	// name across restarts. Required; letters, digits, '-' and '_'.
	Name string
	// Filter selects subjects (NATS wildcards: "*.order", ">"). Defaults
	// to ">" (everything).
	Filter string
	// Concurrency is how many groups are handled at once. Defaults to 16.
	Concurrency int
	// MaxAttempts is how many times a message is tried before it is
	// dead-lettered. Defaults to 5.
	MaxAttempts int
	// BackoffMin is the delay before the first retry; it doubles per
	// attempt (with full jitter) up to BackoffMax. Defaults to 100ms and
	// 30s.
	BackoffMin, BackoffMax time.Duration
	// MaxPending caps the messages held in memory (in flight or waiting
	// behind their group's head). Defaults to 4096.
	MaxPending int
	// MaxAge bounds how long a failing message is retried: a retryable
	// failure of a message published more than MaxAge ago dead-letters it
	// (reason "max_age"), whatever its attempt count. Failures marked
	// Unavailable never do. Defaults to 0: no age limit.
	MaxAge time.Duration
	// PauseMax caps the pause after a handler reports Unavailable (the
	// pause starts at BackoffMin and doubles, with jitter, while the
	// dependency stays down). Defaults to 5s.
	PauseMax time.Duration
	// HoldOnDeadLetter is strict mode: a group whose message was
	// dead-lettered hands over nothing more until that dead letter is
	// replayed (the replay is handled first, then the rest in order) or
	// discarded. Its later messages stay unacknowledged, kept alive, and
	// count against MaxPending. Defaults to false: the group moves on at
	// once, and a replay is handled after the messages that overtook it.
	HoldOnDeadLetter bool
}

// WithDefaults returns c with zero fields set to their defaults.
func (c SubscriptionConfig) WithDefaults() SubscriptionConfig {
	if c.Filter == "" {
		c.Filter = ">"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 100 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 4096
	}
	if c.PauseMax <= 0 {
		c.PauseMax = 5 * time.Second
	}
	return c
}

// Validate names the first bad field.
func (c SubscriptionConfig) Validate() error {
	if c.Name == "" {
		return errors.New("bus: subscription Name is required")
	}
	for _, r := range c.Name {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return fmt.Errorf("bus: subscription Name %q: only letters, digits, '-' and '_'", c.Name)
		}
	}
	if c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("bus: subscription %s: BackoffMax %s below BackoffMin %s", c.Name, c.BackoffMax, c.BackoffMin)
	}
	if c.MaxAge < 0 {
		return fmt.Errorf("bus: subscription %s: MaxAge %s is negative", c.Name, c.MaxAge)
	}
	return nil
}

// Backoff returns the delay before retry number attempt (1 = first retry):
// full jitter over an exponentially growing cap.
func (c SubscriptionConfig) Backoff(attempt int) time.Duration {
	return jittered(c.BackoffMin, c.BackoffMax, attempt)
}

// Pause returns the pause after the n-th consecutive Unavailable report
// (n from 1): like Backoff, capped at PauseMax.
func (c SubscriptionConfig) Pause(n int) time.Duration {
	return jittered(c.BackoffMin, max(c.PauseMax, c.BackoffMin), n)
}

func jittered(lo, hi time.Duration, n int) time.Duration {
	ceiling := lo
	for i := 1; i < n && ceiling < hi; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, hi)
	// Half fixed, half jitter: never hot-loops, never synchronises.
	return ceiling/2 + rand.N(ceiling/2+1)
}

// Stats is a snapshot of one subscription. Counters count since the
// subscription started in this process.
type Stats struct {
	Name string
	// Handled counts messages acknowledged after a successful handler call.
	Handled uint64
	// Retries counts failed handler calls that were scheduled again
	// (Unavailable ones excluded: see OutageRetries).
	Retries uint64
	// DeadLettered counts messages moved to the dead-letter queue.
	DeadLettered uint64
	// Redeliveries counts messages the broker handed over again (after a
	// restart or an expired acknowledgement deadline).
	Redeliveries uint64
	// OutageRetries counts handler calls that reported Unavailable.
	OutageRetries uint64
	// Pauses counts the pauses for an Unavailable dependency.
	Pauses uint64
	// Paused is true while the subscription is paused (or probing whether
	// the dependency is back).
	Paused bool
	// Held is how many messages are in memory (in flight or waiting).
	Held int
	// Groups is how many groups have messages in memory or are blocked.
	Groups int
	// InFlight is how many groups have a handler call running.
	InFlight int
	// Retrying is how many groups wait for a retry of their head.
	Retrying int
	// Blocked is how many groups wait for a dead letter to be resolved
	// (HoldOnDeadLetter).
	Blocked int
	// OldestUnacked is the age, since it was published, of the oldest
	// message held and not yet acknowledged; 0 when none is held.
	OldestUnacked time.Duration
	// Lag is how many messages in the topic the subscription has not been
	// handed yet (-1 when unknown).
	Lag int64
	// Partitions is how many of the topic's partitions this worker holds
	// for the subscription (see the driver's partitioning).
	Partitions int
	// Pending is how many messages of the subscription are not yet
	// acknowledged: Lag plus those handed over and not acknowledged (-1
	// when unknown).
	Pending int64
}

// Subscription is a running subscription.
type Subscription interface {
	// Stop stops fetching, lets handlers in flight finish (until ctx is
	// done, then cancels them), and returns. Messages not acknowledged are
	// handed over again on the next start. Safe to call more than once.
	Stop(ctx context.Context) error
	// Stats returns a snapshot.
	Stats(ctx context.Context) Stats
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the message is dead-lettered
// at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type unavailableError struct{ err error }

func (e unavailableError) Error() string { return e.err.Error() }
func (e unavailableError) Unwrap() error { return e.err }

// Unavailable marks err as a dependency outage (a store that is locked,
// full or unreachable): the message is not at fault. The subscription
// pauses and tries again later; the attempt does not count toward
// MaxAttempts or MaxAge, so an outage never dead-letters anything.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return unavailableError{err}
}

// IsUnavailable reports whether err was marked with Unavailable (and not
// also with Permanent, which wins).
func IsUnavailable(err error) bool {
	var u unavailableError
	return errors.As(err, &u) && !IsPermanent(err)
}

// Reasons a message was dead-lettered (DeadLetter.Reason).
const (
	ReasonPermanent   = "permanent"    // the handler returned a Permanent error
	ReasonMaxAttempts = "max_attempts" // MaxAttempts failed calls
	ReasonMaxAge      = "max_age"      // failing, and older than MaxAge
)

// ErrDeadLetterNotFound is returned for a dead letter that does not exist
// (never did, or was replayed or discarded).
var ErrDeadLetterNotFound = errors.New("bus: dead letter not found")

// DeadLetter is a message a subscription gave up on, as kept in the
// dead-letter queue until it is replayed or discarded.
type DeadLetter struct {
	// ID identifies the dead letter (its position in the dead-letter
	// queue); IDs increase with time.
	ID uint64
	// Subscription is the subscription that gave up on it.
	Subscription string
	// Group and Subject are the original message's.
	Group   string
	Subject string
	// MsgID is the original message's ID.
	MsgID string
	// Reason is ReasonPermanent, ReasonMaxAttempts or ReasonMaxAge.
	Reason string
	// Error is the last handler error (at most 1 KiB).
	Error string
	// Attempts is how many handler calls failed.
	Attempts int
	// OriginalSeq is the message's position in the topic.
	OriginalSeq uint64
	// Published is when the original message was appended to the topic;
	// FailedAt when it was dead-lettered.
	Published time.Time
	FailedAt  time.Time
	// Replays counts the earlier dead letters of this message that were
	// replayed (0 for a first failure).
	Replays int
	// Data is the original payload.
	Data []byte
}

// DeadLetterFilter selects dead letters. Zero fields do not filter.
type DeadLetterFilter struct {
	Subscription string
	Group        string
	// GroupPrefix selects groups that start with it ("shopee:").
	GroupPrefix string
	// Since selects dead letters that failed at or after it.
	Since time.Time
	// After continues a listing: only IDs above it.
	After uint64
	// Limit caps the page. Defaults to 100, at most 1000.
	Limit int
}

// Match reports whether d passes the filter (After and Limit aside).
func (f DeadLetterFilter) Match(d DeadLetter) bool {
	return (f.Subscription == "" || d.Subscription == f.Subscription) &&
		(f.Group == "" || d.Group == f.Group) &&
		(f.GroupPrefix == "" || strings.HasPrefix(d.Group, f.GroupPrefix)) &&
		(f.Since.IsZero() || !d.FailedAt.Before(f.Since))
}

// ReplayResult is the receipt of a replay.
type ReplayResult struct {
	// Seq is the replayed message's position in the topic.
	Seq uint64
	// Duplicate is true when this dead letter had just been replayed: no
	// second copy was appended.
	Duplicate bool
}

// DeadLetterCount is how many dead letters a subscription holds for one
// reason, and when the oldest of them failed.
type DeadLetterCount struct {
	Subscription string
	Reason       string
	Count        int
	Oldest       time.Time
}
