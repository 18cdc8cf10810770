package lazyfs_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/orderlane/orderlane/internal/lazyfs"
)

var (
	usableOnce sync.Once
	usableErr  error
)

// setup mounts a new filesystem in a temporary directory, or skips the
// test saying why FUSE is not usable here.
func setup(t *testing.T) *bundle {
	t.Helper()
	usableOnce.Do(func() { usableErr = lazyfs.Usable() })
	if usableErr != nil {
		t.Skipf("skipped: %v (needs /dev/fuse and the right to mount, e.g. root)", usableErr)
	}
	b := &bundle{t: t, fs: lazyfs.New(), dir: t.TempDir()}
	b.mount()
	t.Cleanup(func() {
		if b.m != nil {
			if err := b.m.Unmount(); err != nil {
				t.Error(err)
			}
		}
	})
	return b
}

type bundle struct {
	t   *testing.T
	fs  *lazyfs.FS
	dir string
	m   *lazyfs.Mount
}

func (b *bundle) mount() {
	b.t.Helper()
	m, err := b.fs.Mount(b.dir)
	if err != nil {
		b.t.Fatal(err)
	}
	b.m = m
}

// cycle cuts the power, unmounts, powers on and mounts again.
func (b *bundle) cycle(mode lazyfs.CutMode, seed uint64) lazyfs.CutReport {
	b.t.Helper()
	rep := b.fs.Cut(mode, rand.New(rand.NewPCG(seed, seed)))
	if err := b.m.Unmount(); err != nil {
		b.t.Fatal(err)
	}
	b.m = nil
	b.fs.PowerOn()
	b.mount()
	return rep
}

func (b *bundle) path(name string) string { return filepath.Join(b.dir, name) }

func (b *bundle) write(name string, data []byte, syncFile bool) {
	b.t.Helper()
	f, err := os.OpenFile(b.path(name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		b.t.Fatal(err)
	}
	if syncFile {
		if err := f.Sync(); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bundle) syncDir(name string) {
	b.t.Helper()
	d, err := os.Open(b.path(name))
	if err != nil {
		b.t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bundle) read(name string) ([]byte, bool) {
	b.t.Helper()
	data, err := os.ReadFile(b.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		b.t.Fatal(err)
	}
	return data, true
}

func TestUnsyncedFileIsLost(t *testing.T) {
	b := setup(t)
	b.write("a", []byte("hello"), false)
	b.cycle(lazyfs.Discard, 1)
	if _, ok := b.read("a"); ok {
		t.Fatal("a file neither fsynced nor named durably survived the cut")
	}
}

func TestSyncedFileWithoutDirSyncIsLost(t *testing.T) {
	b := setup(t)
	b.write("a", []byte("hello"), true)
	b.cycle(lazyfs.Discard, 1)
	if _, ok := b.read("a"); ok {
		t.Fatal("a file whose name was never made durable survived the cut")
	}
}

func TestDurableNameWithoutDataIsEmpty(t *testing.T) {
	b := setup(t)
	b.write("a", []byte("hello"), false)
	b.syncDir(".")
	b.cycle(lazyfs.Discard, 1)
	data, ok := b.read("a")
	if !ok || len(data) != 0 {
		t.Fatalf("got %q (exists %v), want an empty file", data, ok)
	}
}

func TestSyncedFileAndDirSurvive(t *testing.T) {
	b := setup(t)
	if err := os.Mkdir(b.path("d"), 0o700); err != nil {
		t.Fatal(err)
	}
	b.write("d/a", []byte("hello"), true)
	b.syncDir("d")
	b.syncDir(".")
	// An append that is not synced is lost; the synced prefix stays.
	f, err := os.OpenFile(b.path("d/a"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(" world")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if data, _ := b.read("d/a"); string(data) != "hello world" {
		t.Fatalf("before the cut: %q", data)
	}
	rep := b.cycle(lazyfs.Discard, 1)
	if data, ok := b.read("d/a"); !ok || string(data) != "hello" {
		t.Fatalf("after the cut: %q (exists %v), want the synced %q", data, ok, "hello")
	}
	if rep.Files != 1 || rep.LostBytes != int64(len(" world")) {
		t.Errorf("report: %s", rep)
	}
}

func TestRenameIsDurableOnlyWithDirSync(t *testing.T) {
	b := setup(t)
	b.write("a", []byte("old"), true)
	b.syncDir(".")
	b.write("a.tmp", []byte("new"), true)
	if err := os.Rename(b.path("a.tmp"), b.path("a")); err != nil {
		t.Fatal(err)
	}
	b.cycle(lazyfs.Discard, 1)
	if data, _ := b.read("a"); string(data) != "old" {
		t.Fatalf("without a directory sync: %q, want the old content", data)
	}
	b.write("a.tmp", []byte("new"), true)
	if err := os.Rename(b.path("a.tmp"), b.path("a")); err != nil {
		t.Fatal(err)
	}
	b.syncDir(".")
	b.cycle(lazyfs.Discard, 1)
	if data, _ := b.read("a"); string(data) != "new" {
		t.Fatalf("with a directory sync: %q, want the new content", data)
	}
	if _, ok := b.read("a.tmp"); ok {
		t.Fatal("the temporary name survived its rename")
	}
}

func TestOperationsFailAfterCut(t *testing.T) {
	b := setup(t)
	f, err := os.Create(b.path("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b.fs.Cut(lazyfs.Discard, nil)
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("write after the cut succeeded")
	}
	if err := f.Sync(); err == nil {
		t.Fatal("fsync after the cut succeeded")
	}
	f.Close()
	if err := b.m.Unmount(); err != nil {
		t.Fatal(err)
	}
	b.m = nil
	b.fs.PowerOn()
	b.mount()
}

func TestTornCutKeepsAPrefix(t *testing.T) {
	b := setup(t)
	base := bytes.Repeat([]byte("s"), 100)
	b.write("a", base, true)
	b.syncDir(".")
	tail := bytes.Repeat([]byte("u"), 1000)
	f, err := os.OpenFile(b.path("a"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(tail); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var sizes []int
	for seed := range uint64(20) {
		rep := b.cycle(lazyfs.Torn, seed)
		data, _ := b.read("a")
		if !bytes.HasPrefix(data, base) || !bytes.Equal(data[len(base):], tail[:len(data)-len(base)]) {
			t.Fatalf("seed %d: %d bytes, not the synced data and a prefix of the rest", seed, len(data))
		}
		if int64(len(data)-len(base)) != rep.KeptBytes {
			t.Fatalf("seed %d: kept %d bytes, report says %d", seed, len(data)-len(base), rep.KeptBytes)
		}
		sizes = append(sizes, len(data))
		// Back to the synced base, and the same unsynced tail again.
		b.write("a", base, true)
		g, err := os.OpenFile(b.path("a"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Write(tail); err != nil {
			t.Fatal(err)
		}
		g.Close()
	}
	distinct := map[int]bool{}
	for _, s := range sizes {
		distinct[s] = true
	}
	if len(distinct) < 2 {
		t.Fatalf("20 torn cuts all kept %v bytes", sizes)
	}
}

// TestOverlappingWrites: writes that overlap the end, leave holes, and
// rewrite the middle read back as a regular file would.
func TestOverlappingWrites(t *testing.T) {
	b := setup(t)
	f, err := os.Create(b.path("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := make([]byte, 0, 64)
	for _, w := range []struct {
		off  int64
		data string
	}{{0, "0123456789"}, {5, "abcdefghij"}, {20, "XY"}, {2, "--"}} {
		if _, err := f.WriteAt([]byte(w.data), w.off); err != nil {
			t.Fatal(err)
		}
		if end := int(w.off) + len(w.data); end > len(want) {
			want = append(want, make([]byte, end-len(want))...)
		}
		copy(want[w.off:], w.data)
	}
	if got, _ := b.read("a"); !bytes.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	b.syncDir(".")
	f.Close()
	b.cycle(lazyfs.Discard, 1)
	if got, _ := b.read("a"); !bytes.Equal(got, want) {
		t.Fatalf("after the cut %q, want %q", got, want)
	}
}
