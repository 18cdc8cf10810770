package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Roles a process can take (Cluster.Roles).
const (
	RoleGateway = "gateway" // the webhook endpoints: verify, dedup, append
	RoleWorker  = "worker"  // the subscriptions: apply events to the store
	RoleAPI     = "api"     // the query and admin API
)

// AllRoles is the default: one process does everything.
var AllRoles = []string{RoleGateway, RoleWorker, RoleAPI}

// Cluster holds how a process takes part in a deployment of several.
type Cluster struct {
	// Roles lists what this process does (ORDERLANE_ROLES, or serve
	// --roles; comma separated): gateway, worker, api. Defaults to all
	// three. Gateways scale with push traffic, workers with partitions.
	Roles []string `yaml:"roles"`
	// Partitions is the topic's partition count (ORDERLANE_PARTITIONS),
	// fixed when the topic is first created: each partition's groups are
	// handled by one worker at a time, so it caps how many workers share
	// the work. Every process of a deployment must use the same value.
	// Defaults to 1.
	Partitions int `yaml:"partitions"`
	// WorkerID names this process among the workers
	// (ORDERLANE_WORKER_ID): unique per live process; keep it across
	// restarts (a StatefulSet pod name) so a restarted worker takes its
	// partitions back at once. Defaults to an id kept in the data dir.
	WorkerID string `yaml:"worker_id"`
	// LeaseTTL is how long a dead worker's partitions wait before others
	// take them (ORDERLANE_LEASE_TTL). Defaults to 10s; at least 2s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

func (c Cluster) withDefaults() Cluster {
	if len(c.Roles) == 0 {
		c.Roles = slices.Clone(AllRoles)
	}
	for i, r := range c.Roles {
		c.Roles[i] = strings.ToLower(strings.TrimSpace(r))
	}
	if c.Partitions <= 0 {
		c.Partitions = 1
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	return c
}

func (c Cluster) validate() error {
	seen := map[string]bool{}
	for _, r := range c.Roles {
		if !slices.Contains(AllRoles, r) {
			return fmt.Errorf("config: roles: %q: want gateway, worker or api", r)
		}
		if seen[r] {
			return fmt.Errorf("config: roles: %q twice", r)
		}
		seen[r] = true
	}
	if c.Partitions > 1024 {
		return fmt.Errorf("config: partitions %d: at most 1024", c.Partitions)
	}
	if c.LeaseTTL < 2*time.Second {
		return fmt.Errorf("config: lease_ttl %s: at least 2s", c.LeaseTTL)
	}
	for _, r := range c.WorkerID {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return fmt.Errorf("config: worker_id %q: only letters, digits, '-' and '_'", c.WorkerID)
		}
	}
	if len(c.WorkerID) > 64 {
		return fmt.Errorf("config: worker_id: at most 64 characters")
	}
	return nil
}

// Has reports whether the process takes role r.
func (c Cluster) Has(r string) bool { return slices.Contains(c.Roles, r) }

func (c *Cluster) env() []envVar {
	return []envVar{
		{"ORDERLANE_ROLES", &c.Roles},
		{"ORDERLANE_PARTITIONS", &c.Partitions},
		{"ORDERLANE_WORKER_ID", &c.WorkerID},
		{"ORDERLANE_LEASE_TTL", &c.LeaseTTL},
	}
}
