package apitoken_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/orderlane/orderlane/apitoken"
)

func open(t *testing.T, dir string) *apitoken.Store {
	t.Helper()
	s, err := apitoken.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCreateCheckRevoke: a created token is accepted with its scope by
// another Store on the same dir (the server, while the CLI writes), only
// its hash is on disk (mode 0600), and a revoke is seen on the next check.
func TestCreateCheckRevoke(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cli, srv := open(t, dir), open(t, dir)
	if _, ok := srv.Check("anything"); ok {
		t.Fatal("a token accepted with no token file")
	}
	secret, tok, err := cli.Create(apitoken.Read, "reporting")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, apitoken.Prefix) || len(secret) < 50 {
		t.Fatalf("secret %q: want %s and 256 bits", secret, apitoken.Prefix)
	}
	admin, _, err := cli.Create(apitoken.Admin, "")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := srv.Check(secret)
	if !ok || got.ID != tok.ID || got.Scope != apitoken.Read || got.Name != "reporting" {
		t.Fatalf("Check = %+v %v, want the read token", got, ok)
	}
	if got, ok := srv.Check(admin); !ok || got.Scope != apitoken.Admin {
		t.Fatalf("admin token: %+v %v", got, ok)
	}
	for _, bad := range []string{"", secret + "x", secret[:len(secret)-1], strings.ToUpper(secret)} {
		if _, ok := srv.Check(bad); ok {
			t.Fatalf("Check(%q) accepted", bad)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, apitoken.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || strings.Contains(string(b), admin) {
		t.Fatal("a secret is stored in the token file")
	}
	fi, _ := os.Stat(filepath.Join(dir, apitoken.FileName))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	list, err := cli.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if _, err := cli.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Check(secret); ok {
		t.Fatal("revoked token still accepted")
	}
	if _, ok := srv.Check(admin); !ok {
		t.Fatal("the other token no longer accepted")
	}
	if _, err := cli.Revoke(tok.ID); !errors.Is(err, apitoken.ErrNotFound) {
		t.Fatalf("revoking twice: %v, want ErrNotFound", err)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		have, need apitoken.Scope
		want       bool
	}{
		{apitoken.Read, apitoken.Read, true},
		{apitoken.Read, apitoken.Admin, false},
		{apitoken.Admin, apitoken.Read, true},
		{apitoken.Admin, apitoken.Admin, true},
	} {
		if got := tc.have.Allows(tc.need); got != tc.want {
			t.Errorf("%s allows %s = %v, want %v", tc.have, tc.need, got, tc.want)
		}
	}
	if _, err := apitoken.ParseScope("write"); err == nil {
		t.Error("scope write accepted")
	}
}

// TestCorruptFileFailsClosed: a token file that does not parse accepts no
// token (and says why) until it is fixed.
func TestCorruptFileFailsClosed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	secret, _, err := s.Create(apitoken.Admin, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, apitoken.FileName)
	good, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Check(secret); ok || s.Err() == nil {
		t.Fatalf("corrupt file: token accepted or no error (%v)", s.Err())
	}
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Check(secret); !ok {
		t.Fatal("token refused after the file was repaired")
	}
}

// TestConcurrentCreatesLoseNothing: writers on separate Stores (separate
// processes, in effect) serialise on the lock file.
func TestConcurrentCreatesLoseNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if _, _, err := open(t, dir).Create(apitoken.Read, ""); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	list, err := open(t, dir).List()
	if err != nil || len(list) != 40 {
		t.Fatalf("%d tokens (%v), want 40", len(list), err)
	}
}

// TestOpenRefusesMissingDataDir: the tool does not invent a data dir the
// server would not read.
func TestOpenRefusesMissingDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := apitoken.Open(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("Open of a missing dir succeeded")
	}
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := apitoken.Open(f); err == nil {
		t.Fatal("Open of a file succeeded")
	}
}
