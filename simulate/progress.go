package simulate

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often the progress line is rewritten.
const progressEvery = 250 * time.Millisecond

// progress keeps a live status line on a terminal:
//
//	sent 1200/3400 pushes  2310/s  errors 0  | applied 0/300
//
// rewritten with "\r" and ended with "\n" by close. A nil *progress does
// nothing.
type progress struct {
	closeOnce sync.Once
	w         io.Writer
	stats     *sendStats
	correct   *atomic.Int64
	orders    int
	start     time.Time
	sendEnd   atomic.Int64 // Unix nanoseconds; 0 while sending

	width int // of the last line written, to blank its tail
	stop  chan struct{}
	done  chan struct{}
}

// startProgress starts rewriting the progress line on w; nil w means none.
func startProgress(w io.Writer, stats *sendStats, correct *atomic.Int64, orders int) *progress {
	if w == nil {
		return nil
	}
	p := &progress{
		w: w, stats: stats, correct: correct, orders: orders, start: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.write("")
		case <-p.stop:
			p.write("\n")
			return
		}
	}
}

// sent freezes the send rate when the send phase ends.
func (p *progress) sent(at time.Time) {
	if p != nil {
		p.sendEnd.Store(at.UnixNano())
	}
}

// close writes the line a last time, ends it, and stops the updates.
func (p *progress) close() {
	if p == nil {
		return
	}
	p.closeOnce.Do(func() { close(p.stop) })
	<-p.done
}

func (p *progress) write(end string) {
	elapsed := time.Since(p.start)
	if e := p.sendEnd.Load(); e != 0 {
		elapsed = time.Unix(0, e).Sub(p.start)
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.stats.accepted.Load()) / elapsed.Seconds()
	}
	line := fmt.Sprintf("sent %d/%d pushes  %.0f/s  errors %d  | applied %d/%d",
		p.stats.sent.Load(), p.stats.total, rate, p.stats.errors.Load(), p.correct.Load(), p.orders)
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s%s", line, strings.Repeat(" ", pad), end)
}
