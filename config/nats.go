package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// NATS points orderlane at an existing NATS JetStream server or cluster
// instead of the embedded one. Unset (the default), orderlane runs its own
// single JetStream node in the data dir.
type NATS struct {
	// URL lists the cluster's servers, comma separated
	// ("nats://n1:4222,nats://n2:4222,nats://n3:4222"; tls:// for TLS)
	// (ORDERLANE_NATS_URL). Every instance of a deployment points at the
	// same cluster.
	URL string `yaml:"url"`
	// Creds is a NATS credentials file (ORDERLANE_NATS_CREDS); not
	// together with User.
	Creds string `yaml:"creds"`
	// User and Password authenticate by name and password
	// (ORDERLANE_NATS_USER, ORDERLANE_NATS_PASSWORD). The password is a
	// secret: never logged.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// TLSCA is a PEM file of the CAs that sign the servers' certificates,
	// for a private CA (ORDERLANE_NATS_TLS_CA). Empty uses the system's
	// roots.
	TLSCA string `yaml:"tls_ca"`
	// Replicas is the replication factor of orderlane's streams and
	// key-value bucket (ORDERLANE_NATS_REPLICAS): 1, 3 or 5. Streams and
	// consumers are created or updated to it at every start. Defaults to
	// 3 with a URL (a 3-node cluster, as in production), 1 on the
	// embedded server (the only value it takes).
	Replicas int `yaml:"replicas"`
}

func (n NATS) withDefaults() NATS {
	if n.Replicas == 0 {
		n.Replicas = 1
		if n.URL != "" {
			n.Replicas = 3
		}
	}
	return n
}

func (n NATS) validate() error {
	switch n.Replicas {
	case 1, 3, 5:
	default:
		return fmt.Errorf("config: nats.replicas %d: want 1, 3 or 5 (a Raft group needs a majority)", n.Replicas)
	}
	if n.URL == "" {
		if n.Creds != "" || n.User != "" || n.Password != "" || n.TLSCA != "" {
			return errors.New("config: nats.creds, user, password and tls_ca need nats.url")
		}
		if n.Replicas != 1 {
			return fmt.Errorf("config: nats.replicas %d needs nats.url: the embedded server is one node", n.Replicas)
		}
		return nil
	}
	for _, s := range strings.Split(n.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" {
			return errors.New("config: nats.url: want nats://host:4222 (or tls://), comma separated")
		}
		switch u.Scheme {
		case "nats", "tls":
		default:
			return fmt.Errorf("config: nats.url: scheme %q, want nats or tls", u.Scheme)
		}
	}
	if n.Creds != "" && n.User != "" {
		return errors.New("config: nats.creds and nats.user are exclusive")
	}
	if (n.User == "") != (n.Password == "") {
		return errors.New("config: nats.user and nats.password go together")
	}
	return nil
}

func (n *NATS) env() []envVar {
	return []envVar{
		{"ORDERLANE_NATS_URL", &n.URL},
		{"ORDERLANE_NATS_CREDS", &n.Creds},
		{"ORDERLANE_NATS_USER", &n.User},
		{"ORDERLANE_NATS_PASSWORD", &n.Password},
		{"ORDERLANE_NATS_TLS_CA", &n.TLSCA},
		{"ORDERLANE_NATS_REPLICAS", &n.Replicas},
	}
}
