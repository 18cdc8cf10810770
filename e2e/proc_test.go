package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is one `orderlane serve` child process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and its output is copied
	err  error         // what cmd.Wait returned (nil: exit status 0); read after done
}

// startProc starts `bin serve` with exactly env, its stdout and stderr
// appended to out.
func startProc(bin string, env []string, out io.Writer) (*proc, error) {
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second // never hang on the output pipe
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// term sends SIGTERM (graceful shutdown) without waiting.
func (p *proc) term() error { return p.cmd.Process.Signal(syscall.SIGTERM) }

// wait waits up to timeout for the process to exit and returns cmd.Wait's
// error: nil for exit status 0, an *exec.ExitError otherwise.
func (p *proc) wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		return fmt.Errorf("pid %d still running after %s", p.pid(), timeout)
	}
}

// logBuffer collects the output of every run of the server; safe for
// concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last max bytes written.
func (b *logBuffer) tail(max int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > max {
		return "[...]\n" + s[len(s)-max:]
	}
	return s
}
