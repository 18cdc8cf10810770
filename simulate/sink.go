package simulate

import (
	"io"
	"net/http"
)

// SinkHandler is the bare HTTP ceiling: it reads the request body and
// answers 200, nothing else. A load run against it measures what HTTP alone
// costs on the machine, for comparison with orderlane in the same run.
func SinkHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.WriteHeader(http.StatusOK)
	})
}
