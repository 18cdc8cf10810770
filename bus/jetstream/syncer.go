package jetstream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrSyncerClosed is returned by Syncer.Wait after Close.
var ErrSyncerClosed = errors.New("jetstream: syncer closed")

// Syncer is orderlane's group commit for the embedded server: it makes
// appends durable (fsynced) in groups, after the server acknowledged them.
//
// It relies on how nats-server (2.15) stores an R1 file-storage stream when
// sync_always is off: every message is written to the stream's newest
// message block file (pwrite, no buffering in the process) before its
// PubAck is sent, so once a publisher holds the PubAck the bytes are in the
// OS page cache and an fsync of that file makes them durable. See
// docs/durability.md for the source references.
//
// Wait queues the caller behind the next round. One goroutine runs the
// rounds: it takes every waiter queued so far, fsyncs the block files that
// may hold their messages (the newest block and any block created since
// the previous round, plus the msgs directory when a block appeared), and
// releases them all; waiters that arrive meanwhile share the next round.
//
// An fsync error is sticky: Linux may drop the dirty pages of a failed
// write-back, so a later fsync that succeeds proves nothing. After one,
// every Wait fails (and Bus.Ping reports it) until the process restarts and
// the server recovers from what is on disk.
type Syncer struct {
	root string // the embedded server's StoreDir
	dir  string // <root>/jetstream/<account>/streams

	mu      sync.Mutex
	next    *syncRound
	durable map[string]uint64 // per stream: every sequence up to this is fsynced
	err     error             // sticky
	closed  bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	// files is owned by whoever holds filesMu: the loop during a round,
	// Track while it registers a stream.
	filesMu sync.Mutex
	files   map[string]*streamFiles

	rounds, waits, fsyncs atomic.Uint64
}

// SyncerStats counts the syncer's work since start.
type SyncerStats struct {
	// Rounds is how many group fsyncs ran; Waits how many waiters they
	// released (Waits/Rounds is the average group size); Fsyncs how many
	// fsync calls they made (files and directories).
	Rounds, Waits, Fsyncs uint64
}

type syncRound struct {
	seqs    map[string]uint64 // highest sequence waited for, per stream
	waiters uint64
	done    chan struct{}
	err     error
}

// streamFiles is what the syncer keeps open for one stream.
type streamFiles struct {
	name string
	msgs string // the msgs directory
	// blocks are the open block files that may hold appends not yet
	// fsynced: the newest one, and briefly the one before it.
	blocks map[uint32]*os.File
	newest uint32
}

// newSyncer returns a running syncer for the streams under dir, in the
// server's store directory root.
func newSyncer(root, dir string) *Syncer {
	s := &Syncer{
		root:    root,
		dir:     dir,
		durable: make(map[string]uint64),
		files:   make(map[string]*streamFiles),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.loop()
	return s
}

// Track registers a stream (R1, file storage, on this server) and makes
// what already exists of it durable: its metadata files, every block file,
// and its directories up to the root of the filesystem. Call it
// after the stream is created and before waiting on it; lastSeq is the
// stream's last sequence read before the call (everything up to it is
// durable when Track returns).
func (s *Syncer) Track(stream string, lastSeq uint64) error {
	sdir := filepath.Join(s.dir, stream)
	msgs := filepath.Join(sdir, "msgs")
	if _, err := os.Stat(msgs); err != nil {
		return fmt.Errorf("jetstream: syncer: stream %s has no files under %s (is it an R1 file stream of this server?): %w", stream, sdir, err)
	}
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	if _, ok := s.files[stream]; ok {
		return nil
	}
	// Files first, then the directories that name them, from the stream
	// up to the store root: a directory sync must never make an entry
	// durable whose data is not.
	for _, d := range []string{msgs, sdir} {
		if err := s.syncFilesIn(d); err != nil {
			return err
		}
	}
	if err := s.syncUp(msgs); err != nil {
		return err
	}
	st := &streamFiles{name: stream, msgs: msgs, blocks: make(map[uint32]*os.File)}
	if err := st.refresh(s, true); err != nil {
		st.close()
		return err
	}
	s.files[stream] = st
	s.mu.Lock()
	s.durable[stream] = max(s.durable[stream], lastSeq)
	s.mu.Unlock()
	return nil
}

// Wait returns once every message of stream up to seq is fsynced. The
// caller must hold the PubAck for seq (or have received the message from
// the server): the message is then in the block file, and a round started
// after the call covers it.
func (s *Syncer) Wait(ctx context.Context, stream string, seq uint64) error {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if s.closed {
		s.mu.Unlock()
		return ErrSyncerClosed
	}
	if seq <= s.durable[stream] {
		s.mu.Unlock()
		return nil
	}
	r := s.next
	if r == nil {
		r = &syncRound{seqs: make(map[string]uint64, 2), done: make(chan struct{})}
		s.next = r
	}
	r.seqs[stream] = max(r.seqs[stream], seq)
	r.waiters++
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("jetstream: waiting for fsync: %w", ctx.Err())
	}
}

// Err returns the sticky fsync error, if any.
func (s *Syncer) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stats returns the counters.
func (s *Syncer) Stats() SyncerStats {
	return SyncerStats{Rounds: s.rounds.Load(), Waits: s.waits.Load(), Fsyncs: s.fsyncs.Load()}
}

// Close fails the waiters not yet in a round, stops the loop and closes
// the files.
func (s *Syncer) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
}

func (s *Syncer) loop() {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
		case <-s.stop:
			s.mu.Lock()
			r := s.next
			s.next = nil
			s.mu.Unlock()
			if r != nil {
				r.err = ErrSyncerClosed
				close(r.done)
			}
			s.filesMu.Lock()
			for _, st := range s.files {
				st.close()
			}
			s.filesMu.Unlock()
			return
		}
		s.mu.Lock()
		r := s.next
		s.next = nil
		err := s.err
		s.mu.Unlock()
		if r == nil {
			continue
		}
		if err == nil {
			err = s.round(r)
		}
		s.mu.Lock()
		if err != nil {
			if s.err == nil {
				s.err = err
			}
			err = s.err
		} else {
			for stream, seq := range r.seqs {
				s.durable[stream] = max(s.durable[stream], seq)
			}
		}
		s.mu.Unlock()
		s.rounds.Add(1)
		s.waits.Add(r.waiters)
		r.err = err
		close(r.done)
	}
}

// round fsyncs what the waiters of r need.
func (s *Syncer) round(r *syncRound) error {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	for stream := range r.seqs {
		st, ok := s.files[stream]
		if !ok {
			return fmt.Errorf("jetstream: syncer: stream %s is not tracked", stream)
		}
		if err := st.sync(s); err != nil {
			return err
		}
	}
	return nil
}

// sync makes every append to the stream that happened before the call
// durable.
func (st *streamFiles) sync(s *Syncer) error {
	if err := st.refresh(s, false); err != nil {
		return err
	}
	for idx, f := range st.blocks {
		if err := s.fsync(f); err != nil {
			return fmt.Errorf("jetstream: fsync %s: %w", f.Name(), err)
		}
		if idx != st.newest {
			f.Close()
			delete(st.blocks, idx)
		}
	}
	return nil
}

// refresh lists the msgs directory and opens the blocks created since the
// last look. When there is one, every file in the directory and then the
// directory itself are fsynced, so the new block's entry is durable (and
// the directory sync persists no entry, such as a renamed index.db, whose
// data is not). With all, every block is opened (Track).
func (st *streamFiles) refresh(s *Syncer, all bool) error {
	names, err := readDirNames(st.msgs)
	if err != nil {
		return fmt.Errorf("jetstream: syncer: list %s: %w", st.msgs, err)
	}
	appeared := false
	for _, name := range names {
		idx, ok := blockIndex(name)
		if !ok || (idx <= st.newest && !all) {
			continue
		}
		if _, open := st.blocks[idx]; open {
			continue
		}
		f, err := os.Open(filepath.Join(st.msgs, name)) // #nosec G304 -- a block in the server's store directory
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile (expired, purged)
		}
		if err != nil {
			return fmt.Errorf("jetstream: syncer: %w", err)
		}
		st.blocks[idx] = f
		st.newest = max(st.newest, idx)
		appeared = true
	}
	if !appeared {
		return nil
	}
	if err := s.syncFilesIn(st.msgs); err != nil {
		return err
	}
	return s.syncPath(st.msgs)
}

func (st *streamFiles) close() {
	for idx, f := range st.blocks {
		f.Close()
		delete(st.blocks, idx)
	}
}

// syncFilesIn fsyncs every regular file in dir.
func (s *Syncer) syncFilesIn(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("jetstream: syncer: list %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := s.syncPath(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// syncPath opens path and fsyncs it; a file removed meanwhile is skipped.
func (s *Syncer) syncPath(path string) error {
	f, err := os.Open(path) // #nosec G304 -- a file or directory of the server's store
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jetstream: syncer: %w", err)
	}
	defer f.Close()
	s.fsyncs.Add(1)
	if err := f.Sync(); err != nil {
		return fmt.Errorf("jetstream: fsync %s: %w", path, err)
	}
	return nil
}

func (s *Syncer) fsync(f *os.File) error {
	s.fsyncs.Add(1)
	return fdatasync(f)
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir) // #nosec G304 -- the server's msgs directory
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// blockIndex parses a message block file name, "<index>.blk".
func blockIndex(name string) (uint32, bool) {
	num, ok := strings.CutSuffix(name, ".blk")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 32)
	return uint32(n), err == nil
}

// SyncAll fsyncs every file and directory under the store directory, once:
// call it when start-up has created the streams, consumers and buckets, so
// that their metadata files (which the server writes without fsync when
// sync_always is off) are durable before the first acknowledgement.
func (s *Syncer) SyncAll() error {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	var dirs []string
	err := filepath.WalkDir(s.root, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
			return nil
		}
		if d.Type().IsRegular() {
			return s.syncPath(path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("jetstream: syncer: %w", err)
	}
	// Directories deepest first, so each names only durable entries.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := s.syncPath(dirs[i]); err != nil {
			return err
		}
	}
	return s.syncUp(filepath.Dir(s.root))
}

// syncUp fsyncs dir and every directory above it, to the root of the
// filesystem: a data directory created at first start (MkdirAll) is named
// durably only once its parent is synced, and so on up.
func (s *Syncer) syncUp(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if err := s.syncPath(d); err != nil {
			return err
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
