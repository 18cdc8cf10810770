package tlsconf

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// FileCertificate serves a certificate and key from files and picks up a
// rotation without a restart: on a handshake, at most every check
// interval, it compares the files' sizes and modification times with the
// pair in use and reloads on a change. A pair that does not load (one
// file replaced but not yet the other, a key that does not match) is
// logged and skipped: the previous certificate stays in service until
// either file changes again.
type FileCertificate struct {
	certFile, keyFile string
	every             time.Duration
	log               *slog.Logger

	mu       sync.Mutex
	cert     *tls.Certificate
	stamp    [2]fileStamp // of the pair in use, or of the last failed try
	checked  time.Time
	reloaded int
}

type fileStamp struct {
	size int64
	mod  time.Time
}

// LoadFileCertificate loads the pair now; it must load.
func LoadFileCertificate(certFile, keyFile string, every time.Duration, log *slog.Logger) (*FileCertificate, error) {
	f := &FileCertificate{certFile: certFile, keyFile: keyFile, every: every, log: log}
	stamp, err := f.stamps()
	if err != nil {
		return nil, err
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: %w", err)
	}
	f.cert, f.stamp, f.checked = &c, stamp, time.Now()
	return f, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (f *FileCertificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); now.Sub(f.checked) >= f.every {
		f.checked = now
		f.reload()
	}
	return f.cert, nil
}

// Reloads is how many times a changed pair was loaded since the start.
func (f *FileCertificate) Reloads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloaded
}

// reload loads the pair if either file changed. Callers hold f.mu.
func (f *FileCertificate) reload() {
	stamp, err := f.stamps()
	if err != nil {
		f.log.Warn("TLS certificate files unreadable; serving the previous certificate", "err", err)
		return
	}
	if stamp == f.stamp {
		return
	}
	f.stamp = stamp // a pair that fails is not retried until it changes again
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		f.log.Warn("TLS certificate files changed but do not load; serving the previous certificate",
			"cert_file", f.certFile, "key_file", f.keyFile, "err", err)
		return
	}
	f.cert = &c
	f.reloaded++
	f.log.Info("TLS certificate reloaded", "cert_file", f.certFile,
		"subject", c.Leaf.Subject.String(), "not_after", c.Leaf.NotAfter)
}

func (f *FileCertificate) stamps() ([2]fileStamp, error) {
	var out [2]fileStamp
	for i, p := range []string{f.certFile, f.keyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return out, fmt.Errorf("tlsconf: %w", err)
		}
		out[i] = fileStamp{size: fi.Size(), mod: fi.ModTime()}
	}
	return out, nil
}
