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
//     holding only its own group. After MaxAttempts, or at once for an error
//     wrapped with Permanent, the message goes to the subscription's
//     dead-letter queue and the group moves on.
package bus

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
	return nil
}

// Backoff returns the delay before retry number attempt (1 = first retry):
// full jitter over an exponentially growing cap.
func (c SubscriptionConfig) Backoff(attempt int) time.Duration {
	ceiling := c.BackoffMin
	for i := 1; i < attempt && ceiling < c.BackoffMax; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.BackoffMax)
	// Half fixed, half jitter: never hot-loops, never synchronises.
	return ceiling/2 + rand.N(ceiling/2+1)
}

// Stats is a snapshot of one subscription.
type Stats struct {
	Name string
	// Handled counts messages acknowledged after a successful handler call.
	Handled uint64
	// Retries counts failed handler calls that were scheduled again.
	Retries uint64
	// DeadLettered counts messages moved to the dead-letter queue.
	DeadLettered uint64
	// Held is how many messages are in memory (in flight or waiting).
	Held int
	// Groups is how many groups have messages in memory.
	Groups int
	// Lag is how many messages in the topic the subscription has not been
	// handed yet (-1 when unknown).
	Lag int64
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
