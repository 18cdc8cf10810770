// Package diskspace watches the free space of the data directory and
// refuses new work before the disk fills up: a full disk can leave the
// topic or the order store unable to finish a write, while a refused push
// is simply retried by the marketplace later.
//
// The check is cheap on the request path: a background goroutine calls
// statfs every Interval, and requests read the last result.
package diskspace

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderlane/orderlane/httperror"
)

// Config configures a Monitor.
type Config struct {
	// Dir is the directory whose file system is watched. Required.
	Dir string
	// MinFree is the free space (bytes available to the process) below
	// which the disk counts as nearly full. Defaults to 256 MiB; negative
	// turns the check off.
	MinFree int64
	// Interval is how often free space is measured. Defaults to 1s.
	Interval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Monitor measures free space in the background.
type Monitor struct {
	cfg  Config
	free atomic.Int64 // bytes available at the last check; -1 unknown
	low  atomic.Bool

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// ErrLow is wrapped by Monitor.Err while the disk is nearly full.
var ErrLow = errors.New("diskspace: disk nearly full")

// Start measures once (failing if the directory cannot be measured) and
// then every Interval until Stop.
func Start(cfg Config) (*Monitor, error) {
	if cfg.Dir == "" {
		return nil, errors.New("diskspace: Dir is required")
	}
	if cfg.MinFree == 0 {
		cfg.MinFree = 256 << 20
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Monitor{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	if err := m.check(); err != nil {
		return nil, err
	}
	go m.loop()
	return m, nil
}

func (m *Monitor) loop() {
	defer close(m.done)
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		if err := m.check(); err != nil {
			m.cfg.Logger.Warn("diskspace: cannot measure free space", "dir", m.cfg.Dir, "err", err)
		}
	}
}

// check measures once and updates the state; a failed measurement keeps
// the previous state.
func (m *Monitor) check() error {
	if m.cfg.MinFree < 0 {
		m.free.Store(-1)
		return nil
	}
	free, err := available(m.cfg.Dir)
	if err != nil {
		return fmt.Errorf("diskspace: %s: %w", m.cfg.Dir, err)
	}
	m.free.Store(free)
	low := free < m.cfg.MinFree
	if was := m.low.Swap(low); was != low {
		if low {
			m.cfg.Logger.Error("disk nearly full: refusing new pushes", "dir", m.cfg.Dir, "free_bytes", free, "min_free_bytes", m.cfg.MinFree)
		} else {
			m.cfg.Logger.Info("disk space back: taking pushes again", "dir", m.cfg.Dir, "free_bytes", free)
		}
	}
	return nil
}

// Free is the space available at the last check, in bytes (-1 when the
// check is off).
func (m *Monitor) Free() int64 { return m.free.Load() }

// Low reports whether the disk was nearly full at the last check.
func (m *Monitor) Low() bool { return m.low.Load() }

// Err is nil, or ErrLow with the figures while the disk is nearly full
// (for /readyz).
func (m *Monitor) Err() error {
	if !m.Low() {
		return nil
	}
	return fmt.Errorf("%w: %d bytes free in %s, below %d", ErrLow, m.Free(), m.cfg.Dir, m.cfg.MinFree)
}

// Guard answers 503 with Retry-After while the disk is nearly full, and
// passes requests to next otherwise.
func (m *Monitor) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.Low() {
			w.Header().Set("Retry-After", strconv.Itoa(60))
			httperror.Write(w, http.StatusServiceUnavailable, httperror.CodeUnavailable,
				"disk nearly full: not accepting new pushes; retry later")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Stop ends the background checks. It is safe to call more than once.
func (m *Monitor) Stop() {
	m.stopOnce.Do(func() {
		close(m.stop)
		<-m.done
	})
}
