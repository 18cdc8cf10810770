package server

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// limitListener accepts at most max connections at once: past it, Accept
// waits for one to close, and new connections wait in the kernel's
// backlog. Each open connection holds a goroutine and its buffers (about
// 20 KiB when idle, measured), so the cap bounds memory whatever
// a client opens; the read-header and idle timeouts free the slots that
// slow or idle clients hold.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	open      atomic.Int64
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(l net.Listener, max int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, max), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.open.Add(1)
	return &limitConn{Conn: c, release: func() { l.open.Add(-1); <-l.sem }}, nil
}

// Close closes the listener and ends an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *limitListener) collector(name string) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "orderlane_http_connections",
		Help:        "Open HTTP connections, by listener; at most http.max_conns each.",
		ConstLabels: prometheus.Labels{"listener": name},
	}, func() float64 { return float64(l.open.Load()) })
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
