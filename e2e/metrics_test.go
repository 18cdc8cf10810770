package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metrics is a scrape of /metrics.
type metrics []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// sum adds the samples of name whose labels include the given pairs
// (name, value, name, value...).
func (m metrics) sum(name string, pairs ...string) float64 {
	total := 0.0
next:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(pairs); i += 2 {
			if s.labels[pairs[i]] != pairs[i+1] {
				continue next
			}
		}
		total += s.value
	}
	return total
}

// by sums the samples of name per value of label, as "value=sum" pairs
// in label order ("none" when there is no sample).
func (m metrics) by(name, label string) string {
	sums := map[string]float64{}
	for _, s := range m {
		if s.name == name {
			sums[s.labels[label]] += s.value
		}
	}
	if len(sums) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(sums))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, sums[k])
	}
	return strings.Join(parts, " ")
}

// value is sum, or -1 when no sample matches.
func (m metrics) value(name string, pairs ...string) float64 {
	for _, s := range m {
		if s.name == name {
			return m.sum(name, pairs...)
		}
	}
	return -1
}

// metrics scrapes /metrics (Prometheus text format).
func (f *fixture) metrics(ctx context.Context) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.api.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var m metrics
	for line := range strings.Lines(string(b)) {
		if s, ok := parseSample(strings.TrimSpace(line)); ok {
			m = append(m, s)
		}
	}
	return m, nil
}

// parseSample parses `name{label="value",...} 1.5` or `name 1.5`.
func parseSample(line string) (sample, bool) {
	if line == "" || line[0] == '#' {
		return sample{}, false
	}
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return sample{}, false
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, ",")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			k, rest, ok := strings.Cut(line, `="`)
			if !ok {
				return sample{}, false
			}
			var v strings.Builder
			j := 0
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
				}
				v.WriteByte(rest[j])
			}
			if j == len(rest) {
				return sample{}, false
			}
			s.labels[k], line = v.String(), rest[j+1:]
		}
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return sample{}, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return sample{}, false
	}
	s.value = v
	return s, true
}

// waitMetrics polls /metrics until ok accepts a scrape, and returns it.
// what names the condition in the error.
func (f *fixture) waitMetrics(ctx context.Context, timeout time.Duration, what string, ok func(metrics) bool) (metrics, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := f.metrics(ctx)
		if err == nil && ok(m) {
			return m, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("last scrape: %s", m.subscriptions())
			}
			return m, fmt.Errorf("not %s after %s: %v", what, timeout, err)
		}
		select {
		case <-time.After(50 * time.Millisecond): // poll interval
		case <-ctx.Done():
		}
	}
}

// idle reports whether both subscriptions have nothing left in the topic
// and nothing in memory: everything appended has been handled.
func idle(m metrics) bool {
	for _, sub := range []string{"orders", "audit"} {
		if m.value("orderlane_subscription_lag", "subscription", sub) != 0 ||
			m.value("orderlane_subscription_held", "subscription", sub) != 0 {
			return false
		}
	}
	return true
}

// subscriptions summarises the subscription gauges and counters.
func (m metrics) subscriptions() string {
	var parts []string
	for _, sub := range []string{"orders", "audit"} {
		parts = append(parts, fmt.Sprintf("%s lag=%v held=%v handled=%v retries=%v dead=%v", sub,
			m.value("orderlane_subscription_lag", "subscription", sub),
			m.value("orderlane_subscription_held", "subscription", sub),
			m.value("orderlane_subscription_handled_total", "subscription", sub),
			m.value("orderlane_subscription_retries_total", "subscription", sub),
			m.value("orderlane_subscription_dead_letters_total", "subscription", sub)))
	}
	return strings.Join(parts, "; ")
}
