// Package lazyfs is a FUSE filesystem for power-loss tests, in the spirit
// of Jepsen's LazyFS: it keeps everything written to it in a page cache of
// its own, makes data durable only when the program asks (fsync), and on a
// simulated power cut throws away whatever was not made durable.
//
// # The model
//
// The filesystem is held in memory, in two layers: what programs see (the
// page cache) and what survives a power cut (the disk).
//
//   - File data: write and truncate change the page cache only. fsync or
//     fdatasync of a file, through any handle, copies that file's page
//     cache to its disk copy (data and size; fsync and fdatasync are the
//     same here).
//   - Directory entries: create, mkdir, unlink, rmdir and rename change the
//     page cache only. fsync of a directory makes its whole entry list
//     durable: new names, removed names, names moved in or out. A rename
//     between two directories is durable in each directory when that one
//     is synced (POSIX promises no more; ext4 happens to commit both at
//     once).
//   - A file is on disk only if it is reachable from the root through
//     durable entries: a file that was fsynced but whose name was never
//     made durable is lost, and a name that is durable for a file whose
//     data was never fsynced gives an empty file (what ext4 with delayed
//     allocation can leave).
//   - Modes, owners and timestamps are not modelled as durable state; the
//     mode travels with the file.
//
// A cut (Cut) is atomic with respect to every operation: an operation
// either completed before it (and its durable effects stay) or fails with
// EIO. With Discard every unsynced change is lost, as in LazyFS. With
// Torn, each file with unsynced data keeps a random prefix of its dirty
// range (the disk wrote back part of it, possibly mid-record) and each
// directory with unsynced entries keeps all or none of them (the journal
// committed or not), at random: recovery code then meets torn tails too.
//
// After a cut the filesystem must be unmounted (the program using it is
// dead), then PowerOn rebuilds the page cache from the disk and it can be
// mounted again: a fresh mount drops the kernel's caches, as a reboot
// would.
//
// It is a test tool: one lock serialises every operation, and everything
// lives in memory.
package lazyfs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// CutMode says what a power cut keeps of the unsynced state.
type CutMode int

const (
	// Discard loses every change not made durable (LazyFS's model).
	Discard CutMode = iota
	// Torn keeps, per file, a random prefix of the unsynced writes and,
	// per directory, all or none of its unsynced entries.
	Torn
)

// String names the mode.
func (m CutMode) String() string {
	if m == Torn {
		return "torn"
	}
	return "discard"
}

// FS is the filesystem. The zero value is not usable; call New.
type FS struct {
	// Trace, if set before mounting, is called (under the filesystem's
	// lock) for every change of a directory: "create", "mkdir", "unlink",
	// "rmdir", "rename", "fsyncdir", with the inode numbers involved.
	Trace func(op string, args ...any)

	mu      sync.Mutex
	root    *node
	nextIno uint64
	down    bool
	stats   Stats
}

// Stats counts operations since New.
type Stats struct {
	// Writes and WriteBytes count write calls and bytes written.
	Writes, WriteBytes uint64
	// FileSyncs and DirSyncs count fsync calls on files and directories.
	FileSyncs, DirSyncs uint64
	// Cuts counts power cuts.
	Cuts uint64
}

// CutReport says what a cut threw away.
type CutReport struct {
	Mode CutMode
	// Files is how many files had unsynced data; LostBytes how many
	// unsynced bytes (of their dirty ranges) were lost, KeptBytes how many
	// a torn cut kept.
	Files                int
	LostBytes, KeptBytes int64
	// Dirs is how many directories had unsynced entries; DirsKept how many
	// of them a torn cut kept.
	Dirs, DirsKept int
}

// String summarises the report.
func (r CutReport) String() string {
	return fmt.Sprintf("%s cut: %d files with unsynced data (%d bytes lost, %d kept), %d directories with unsynced entries (%d kept)",
		r.Mode, r.Files, r.LostBytes, r.KeptBytes, r.Dirs, r.DirsKept)
}

type node struct {
	ino   uint64
	dir   bool
	mode  uint32 // permission bits
	mtime time.Time

	// Page cache.
	data     []byte
	children map[string]*node
	// dirty is the byte range of data changed since the last fsync
	// (lo > hi when clean); dirtyEntries marks unsynced entry changes.
	lo, hi       int64
	dirtyEntries bool

	// Disk.
	ddata     []byte
	dchildren map[string]*node
}

// New returns an empty filesystem: a root directory, durable.
func New() *FS {
	f := &FS{nextIno: 1}
	f.root = f.newNode(true, 0o755)
	return f
}

func (f *FS) newNode(dir bool, mode uint32) *node {
	n := &node{ino: f.nextIno, dir: dir, mode: mode & 0o7777, mtime: time.Now(), lo: 1, hi: 0}
	f.nextIno++
	if dir {
		n.children = map[string]*node{}
		n.dchildren = map[string]*node{}
	}
	return n
}

// Stats returns the counters.
func (f *FS) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Cut simulates a power cut: from now on every operation fails with EIO,
// and the unsynced state is resolved per mode (rng decides for Torn). The
// page cache stays as it was until PowerOn, which replaces it with the
// disk.
func (f *FS) Cut(mode CutMode, rng *rand.Rand) CutReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	rep := CutReport{Mode: mode}
	if f.down {
		return rep
	}
	f.down = true
	f.stats.Cuts++
	seen := map[*node]bool{}
	var visit func(n *node)
	visit = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		if n.dir {
			if n.dirtyEntries {
				rep.Dirs++
				if mode == Torn && rng.IntN(2) == 0 {
					n.syncEntries()
					rep.DirsKept++
				}
			}
			// Both layers: a file moved away in the page cache may still
			// be on disk here.
			for _, c := range n.children {
				visit(c)
			}
			for _, c := range n.dchildren {
				visit(c)
			}
			return
		}
		if n.lo > n.hi && int64(len(n.ddata)) == int64(len(n.data)) {
			return
		}
		rep.Files++
		lo, hi := n.lo, min(n.hi, int64(len(n.data)))
		dirty := max(hi-lo, 0)
		if mode == Torn && dirty > 0 {
			// Part of the dirty range reached the disk, and the size
			// with it.
			keep := rng.Int64N(dirty + 1)
			size := min(max(int64(len(n.ddata)), lo+keep), int64(len(n.data)))
			n.syncRange(lo, lo+keep, size)
			rep.KeptBytes += keep
			dirty -= keep
		}
		rep.LostBytes += dirty
	}
	visit(f.root)
	return rep
}

// PowerOn rebuilds the page cache from the disk and lets operations run
// again. Call it while unmounted.
func (f *FS) PowerOn() {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[*node]bool{}
	var restore func(n *node)
	restore = func(n *node) {
		seen[n] = true
		if !n.dir {
			n.data = append([]byte(nil), n.ddata...)
			n.lo, n.hi = 1, 0
			return
		}
		n.children = make(map[string]*node, len(n.dchildren))
		for name, c := range n.dchildren {
			if seen[c] {
				// Durable in two places (a cross-directory rename
				// synced on both sides at different times): keep the
				// first one met.
				delete(n.dchildren, name)
				continue
			}
			n.children[name] = c
			restore(c)
		}
		n.dirtyEntries = false
	}
	restore(f.root)
	f.down = false
}

// syncData makes n's page cache durable.
func (n *node) syncData() {
	n.syncRange(n.lo, n.hi, int64(len(n.data)))
	n.lo, n.hi = 1, 0
}

// syncRange sizes the disk copy to size (new bytes read as zeros, as
// unwritten blocks do) and copies data[lo:hi] to it. fsync uses the whole
// dirty range; a torn cut a prefix of it.
func (n *node) syncRange(lo, hi, size int64) {
	old := int64(len(n.ddata))
	if size > int64(cap(n.ddata)) {
		grown := make([]byte, old, size+size/4)
		copy(grown, n.ddata)
		n.ddata = grown
	}
	n.ddata = n.ddata[:size]
	if size > old {
		clear(n.ddata[old:])
	}
	lo, hi = max(lo, 0), min(hi, size, int64(len(n.data)))
	if lo < hi {
		copy(n.ddata[lo:hi], n.data[lo:hi])
	}
}

func (n *node) syncEntries() {
	n.dchildren = make(map[string]*node, len(n.children))
	for name, c := range n.children {
		n.dchildren[name] = c
	}
	n.dirtyEntries = false
}

func (n *node) markDirty(lo, hi int64) {
	if n.lo > n.hi {
		n.lo, n.hi = lo, hi
		return
	}
	n.lo, n.hi = min(n.lo, lo), max(n.hi, hi)
}

// The operations below are what the FUSE layer calls; they hold f.mu.

func (f *FS) write(n *node, p []byte, off int64) syscall.Errno {
	if f.down {
		return syscall.EIO
	}
	end := off + int64(len(p))
	if end > int64(len(n.data)) {
		if end > int64(cap(n.data)) {
			grown := make([]byte, len(n.data), end+end/2)
			copy(grown, n.data)
			n.data = grown
		}
		old := int64(len(n.data))
		n.data = n.data[:end]
		if off > old {
			clear(n.data[old:off]) // a hole reads as zeros
		}
	}
	copy(n.data[off:], p)
	n.markDirty(off, end)
	n.mtime = time.Now()
	f.stats.Writes++
	f.stats.WriteBytes += uint64(len(p))
	return 0
}

func (f *FS) truncate(n *node, size int64) syscall.Errno {
	if f.down {
		return syscall.EIO
	}
	old := int64(len(n.data))
	switch {
	case size < old:
		n.data = n.data[:size]
		n.markDirty(size, size)
	case size > old:
		if size > int64(cap(n.data)) {
			grown := make([]byte, old, size)
			copy(grown, n.data)
			n.data = grown
		}
		n.data = n.data[:size]
		clear(n.data[old:])
		n.markDirty(old, size)
	}
	n.mtime = time.Now()
	return 0
}

func (f *FS) fsync(n *node) syscall.Errno {
	if f.down {
		return syscall.EIO
	}
	if f.Trace != nil {
		f.Trace("fsync", "ino", n.ino, "dir", n.dir, "size", len(n.data))
	}
	if n.dir {
		n.syncEntries()
		f.stats.DirSyncs++
	} else {
		n.syncData()
		f.stats.FileSyncs++
	}
	return 0
}

func (f *FS) add(parent *node, name string, dir bool, mode uint32) (*node, syscall.Errno) {
	if f.down {
		return nil, syscall.EIO
	}
	if _, ok := parent.children[name]; ok {
		return nil, syscall.EEXIST
	}
	n := f.newNode(dir, mode)
	if f.Trace != nil {
		f.Trace("create", "parent", parent.ino, "name", name, "ino", n.ino, "dir", dir)
	}
	parent.children[name] = n
	parent.dirtyEntries = true
	parent.mtime = time.Now()
	return n, 0
}

func (f *FS) remove(parent *node, name string, dir bool) syscall.Errno {
	if f.down {
		return syscall.EIO
	}
	c, ok := parent.children[name]
	switch {
	case !ok:
		return syscall.ENOENT
	case dir && !c.dir:
		return syscall.ENOTDIR
	case !dir && c.dir:
		return syscall.EISDIR
	case dir && len(c.children) > 0:
		return syscall.ENOTEMPTY
	}
	if f.Trace != nil {
		f.Trace("remove", "parent", parent.ino, "name", name, "ino", c.ino)
	}
	delete(parent.children, name)
	parent.dirtyEntries = true
	parent.mtime = time.Now()
	return 0
}

// renameNoReplace is RENAME_NOREPLACE from linux/fs.h.
const renameNoReplace = 1

func (f *FS) rename(from *node, name string, to *node, newName string, flags uint32) syscall.Errno {
	if f.down {
		return syscall.EIO
	}
	if flags&^renameNoReplace != 0 {
		return syscall.EINVAL // RENAME_EXCHANGE, RENAME_WHITEOUT: not modelled
	}
	c, ok := from.children[name]
	if !ok {
		return syscall.ENOENT
	}
	if old, ok := to.children[newName]; ok {
		switch {
		case old == c:
			return 0
		case flags&renameNoReplace != 0:
			return syscall.EEXIST
		case old.dir && !c.dir:
			return syscall.EISDIR
		case !old.dir && c.dir:
			return syscall.ENOTDIR
		case old.dir && len(old.children) > 0:
			return syscall.ENOTEMPTY
		}
	}
	if f.Trace != nil {
		f.Trace("rename", "from", from.ino, "name", name, "to", to.ino, "new", newName, "ino", c.ino)
	}
	delete(from.children, name)
	to.children[newName] = c
	from.dirtyEntries, to.dirtyEntries = true, true
	from.mtime, to.mtime = time.Now(), time.Now()
	return 0
}

// WriteDisk writes what is on disk (as a power cut would leave it, if one
// happened now with Discard) under dir, for a look after a failed test.
func (f *FS) WriteDisk(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[*node]bool{}
	var write func(n *node, path string) error
	write = func(n *node, path string) error {
		if seen[n] {
			return nil
		}
		seen[n] = true
		if !n.dir {
			return os.WriteFile(path, n.ddata, 0o600)
		}
		if err := os.MkdirAll(path, 0o700); err != nil {
			return err
		}
		names := make([]string, 0, len(n.dchildren))
		for name := range n.dchildren {
			names = append(names, name)
		}
		sort.Strings(names)
		var errs []error
		for _, name := range names {
			errs = append(errs, write(n.dchildren[name], filepath.Join(path, name)))
		}
		return errors.Join(errs...)
	}
	return write(f.root, dir)
}
