package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/internal/atomicfile"
)

// workerIDFile keeps a generated worker id across restarts, so that a
// restarted worker takes its partition leases back at once.
const workerIDFile = "worker-id"

// workerID is the configured worker id, else the one kept in the data
// dir, else a new one ("<host>-<random>") written there.
func workerID(cfg config.Config) (string, error) {
	if cfg.Cluster.WorkerID != "" {
		return cfg.Cluster.WorkerID, nil
	}
	path := filepath.Join(cfg.DataDir, workerIDFile)
	b, err := os.ReadFile(path) // #nosec G304 -- our own file in the data dir
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("server: worker id: %w", err)
	}
	host, _ := os.Hostname()
	var clean strings.Builder
	for _, r := range host {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '-' {
			clean.WriteRune(r)
		}
		if clean.Len() >= 40 {
			break
		}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := strings.TrimPrefix(clean.String()+"-"+hex.EncodeToString(rnd[:]), "-")
	// Durable before it is used: a file torn or lost by a power cut would
	// give the restarted worker another id, and its own leases would
	// hold its partitions back for a lease TTL.
	if err := atomicfile.Write(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server: worker id: %w", err)
	}
	return id, nil
}

// roleGate answers 404 for what this process's roles leave out: the
// webhooks without the gateway role, the API and the shops' connect
// callback without the api role.
// Health, readiness and metrics are always served.
func (s *Server) roleGate(next http.Handler) http.Handler {
	c := s.cfg.Cluster
	if c.Has(config.RoleGateway) && c.Has(config.RoleAPI) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/webhooks/") && !c.Has(config.RoleGateway),
			(strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/connect/")) && !c.Has(config.RoleAPI):
			httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound,
				fmt.Sprintf("this instance runs the roles %s", strings.Join(c.Roles, ",")))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Subscriptions returns the subscriptions this instance runs (none
// without the worker role).
func (s *Server) Subscriptions() []bus.Subscription { return s.subs }
