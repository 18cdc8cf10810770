package sqlite

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/orderlane/orderlane/order"
)

// translate marks with order.ErrUnavailable the errors that say the
// database cannot be used for now, rather than that this write is wrong:
// locked or busy (another connection holds the lock past BusyTimeout), out
// of disk space, failing I/O, read-only or unopenable files, a corrupt
// file, and a closed store. A caller retries those later instead of giving
// up on the event; the subscriptions pause on them.
func translate(err error) error {
	if err == nil || errors.Is(err, order.ErrUnavailable) {
		return err
	}
	if errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %w", order.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL,
		sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: %w", order.ErrUnavailable, err)
	}
	return err
}
