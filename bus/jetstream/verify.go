package jetstream

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/minio/highwayhash"
)

// ErrCorrupt is wrapped by the error StartEmbedded returns when a data
// file is damaged; errors.As finds the *CorruptError with the details.
var ErrCorrupt = errors.New("jetstream: data file damaged")

// CorruptError describes a damaged message block: a record that fails its
// checksum (or cannot be parsed) with valid records after it, or in a
// block older than the two newest. nats-server would not serve such a
// record, but it would drop it without an error (and, when it rebuilds
// the block after a crash, truncate the block there, destroying the valid
// records behind it), so the embedded server refuses to start on it.
type CorruptError struct {
	Stream string
	File   string
	// Offset is where the damaged record starts; After the last good
	// sequence before it (0: none in this block).
	Offset int64
	After  uint64
	// Detail says what is wrong with the record.
	Detail string
	// ValidAfter counts the records found intact after the damage, up to
	// sequence LastSeq.
	ValidAfter int
	LastSeq    uint64
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v: stream %s, file %s, byte %d (the record after sequence %d: %s; %d intact records follow it in the file, up to sequence %d)."+
		" Refusing to start: the server would silently drop or truncate these records."+
		" Recover: stop, copy the data directory aside, then restore it from a backup,"+
		" or move %s out of the data directory to accept losing the messages it holds"+
		" (see docs/durability.md, \"Corruption\")",
		ErrCorrupt, e.Stream, e.File, e.Offset, e.After, e.Detail, e.ValidAfter, e.LastSeq, e.File)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// VerifyReport summarises VerifyStore.
type VerifyReport struct {
	Streams, Blocks, Records int
	Bytes                    int64
	// TornTails lists the damage taken for an interrupted write: a record
	// cut short (or garbage) at the end of one of a stream's two newest
	// blocks, with nothing intact after it. The server drops it at start.
	TornTails []string
	// Skipped lists blocks that are compressed or encrypted, which are not
	// checked.
	Skipped  []string
	Duration time.Duration
}

// Record layout of a message block, from nats-server 2.15 filestore.go
// (writeMsgRecordLocked): total_len(4) seq(8) ts(8) subj_len(2) subj
// [hdr_len(4) hdr] msg hash(8); the high bit of total_len says there are
// headers; the hash is HighwayHash-64 keyed with sha256("<stream>-<block
// index>") over seq, ts, subj, hdr and msg.
const (
	recHdrSize  = 22
	recHashSize = 8
	recHdrBit   = 1 << 31
	recTombBit  = 1 << 62
	recEraseBit = 1 << 63
	recMaxLen   = 32 << 20
)

// VerifyStore checks every record of every message block under storeDir
// (the StoreDir of an embedded server that is not running) against its
// checksum. It returns a *CorruptError (wrapping ErrCorrupt) for the first
// damaged block found.
func VerifyStore(storeDir string) (VerifyReport, error) {
	start := time.Now()
	var rep VerifyReport
	streams, err := filepath.Glob(filepath.Join(storeDir, "jetstream", "*", "streams", "*"))
	if err != nil {
		return rep, err
	}
	for _, sdir := range streams {
		if err := verifyStream(sdir, &rep); err != nil {
			return rep, err
		}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

func verifyStream(sdir string, rep *VerifyReport) error {
	name := filepath.Base(sdir)
	msgs := filepath.Join(sdir, "msgs")
	entries, err := os.ReadDir(msgs)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jetstream: verify %s: %w", msgs, err)
	}
	rep.Streams++
	var idx []uint32
	encrypted := false
	for _, e := range entries {
		if i, ok := blockIndex(e.Name()); ok {
			idx = append(idx, i)
		} else if filepath.Ext(e.Name()) == ".key" {
			encrypted = true
		}
	}
	slices.Sort(idx)
	var prevLast uint64 // the last sequence of the blocks before
	for n, i := range idx {
		path := filepath.Join(msgs, fmt.Sprintf("%d.blk", i))
		if encrypted {
			rep.Skipped = append(rep.Skipped, path)
			continue
		}
		buf, err := os.ReadFile(path) // #nosec G304 -- a block in the server's store directory
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("jetstream: verify %s: %w", path, err)
		}
		if len(buf) >= 4 && string(buf[:3]) == "cmp" {
			rep.Skipped = append(rep.Skipped, path)
			continue
		}
		rep.Blocks++
		rep.Bytes += int64(len(buf))
		recent := n >= len(idx)-2 // written since the last fsync, possibly
		records, last, torn, cerr := verifyBlock(name, i, buf, recent, prevLast)
		prevLast = max(prevLast, last)
		rep.Records += records
		if cerr != nil {
			cerr.File = path
			return cerr
		}
		if torn != "" {
			rep.TornTails = append(rep.TornTails, path+": "+torn)
		}
	}
	return nil
}

// verifyBlock checks the records of block index of stream, whose earlier
// blocks end at sequence prevLast. Damage with no intact record after it
// is a torn tail (returned as torn) if the block is recent, else
// corruption.
func verifyBlock(stream string, index uint32, buf []byte, recent bool, prevLast uint64) (records int, lastSeq uint64, torn string, _ *CorruptError) {
	key := sha256.Sum256(fmt.Appendf(nil, "%s-%d", stream, index))
	hh, err := highwayhash.New64(key[:])
	if err != nil {
		return 0, 0, "", &CorruptError{Stream: stream, Detail: err.Error()}
	}
	lastSeq = prevLast
	for off := 0; off < len(buf); {
		rl, seq, detail := checkRecord(hh, buf, off)
		if detail == "" {
			records++
			lastSeq = seq
			off += rl
			continue
		}
		// Where to look for what follows: after the last good sequence,
		// and after the sequence the damaged record claims (if its
		// header is the intact part).
		hints := []uint64{lastSeq}
		if len(buf)-off >= recHdrSize {
			hints = append(hints, binary.LittleEndian.Uint64(buf[off+4:])&^(recTombBit|recEraseBit))
		}
		valid, last := resync(hh, buf, off, hints)
		if valid == 0 && recent {
			return records, lastSeq, fmt.Sprintf("byte %d after sequence %d: %s; %d bytes dropped at start", off, lastSeq, detail, len(buf)-off), nil
		}
		return records, lastSeq, "", &CorruptError{Stream: stream, Offset: int64(off), After: lastSeq, Detail: detail, ValidAfter: valid, LastSeq: last}
	}
	return records, lastSeq, "", nil
}

// checkRecord parses and checks the record at off. It returns its length
// and sequence (flag bits cleared), or why it is bad.
func checkRecord(hh hash.Hash64, buf []byte, off int) (int, uint64, string) {
	le := binary.LittleEndian
	if len(buf)-off < recHdrSize {
		return 0, 0, "record header cut short"
	}
	hdr := buf[off : off+recHdrSize]
	rl := le.Uint32(hdr[0:])
	hasHeaders := rl&recHdrBit != 0
	rl &^= recHdrBit
	slen := int(le.Uint16(hdr[20:]))
	shlen := slen
	if hasHeaders {
		shlen += 4
	}
	dlen := int(rl) - recHdrSize
	if dlen < recHashSize || shlen > dlen-recHashSize || rl > recMaxLen {
		return 0, 0, fmt.Sprintf("impossible lengths (record %d, subject %d)", rl, slen)
	}
	if off+int(rl) > len(buf) {
		return 0, 0, fmt.Sprintf("record of %d bytes runs past the end of the file", rl)
	}
	data := buf[off+recHdrSize : off+int(rl)]
	hh.Reset()
	hh.Write(hdr[4:20])
	hh.Write(data[:slen])
	if hasHeaders {
		hh.Write(data[slen+4 : dlen-recHashSize])
	} else {
		hh.Write(data[slen : dlen-recHashSize])
	}
	var sum [8]byte
	if !bytes.Equal(hh.Sum(sum[:0]), data[dlen-recHashSize:]) {
		return 0, 0, "checksum mismatch"
	}
	return int(rl), le.Uint64(hdr[4:]) &^ (recTombBit | recEraseBit), ""
}

// resync looks for intact records after damage at off: a record whose
// sequence closely follows one of hints. It returns how many intact
// records follow the first one found, and the last one's sequence.
func resync(hh hash.Hash64, buf []byte, off int, hints []uint64) (valid int, last uint64) {
	for _, hint := range hints {
		if valid, last = resyncAfter(hh, buf, off, hint); valid > 0 {
			return valid, last
		}
	}
	return 0, 0
}

func resyncAfter(hh hash.Hash64, buf []byte, off int, lastSeq uint64) (valid int, last uint64) {
	for next := lastSeq + 1; next <= lastSeq+4; next++ {
		for _, bits := range []uint64{0, recTombBit, recEraseBit} {
			var pat [8]byte
			binary.LittleEndian.PutUint64(pat[:], next|bits)
			for from := off + 1; from < len(buf); {
				i := bytes.Index(buf[from:], pat[:])
				if i < 0 {
					break
				}
				start := from + i - 4
				from += i + 1
				if start <= off {
					continue
				}
				if rl, seq, bad := checkRecord(hh, buf, start); bad == "" {
					valid, last = 1, seq
					for p := start + rl; p < len(buf); {
						n, s, bad := checkRecord(hh, buf, p)
						if bad != "" {
							break
						}
						valid++
						last = s
						p += n
					}
					return valid, last
				}
			}
		}
	}
	return 0, 0
}
