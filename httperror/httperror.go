// Package httperror is the one place that writes error responses: a status
// code and the JSON body {"error": {"code": "...", "message": "..."}}.
package httperror

import (
	"encoding/json"
	"net/http"
)

// Body is the JSON shape of every error response.
type Body struct {
	Error Detail `json:"error"`
}

// Detail names the error kind (a stable, machine-readable code) and says
// what went wrong in words.
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Codes used across orderlane's HTTP surface.
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "payload_too_large"
	CodeUnavailable      = "unavailable"
	CodeTooManyRequests  = "too_many_requests"
	CodeOverloaded       = "overloaded"
	CodeNotConfigured    = "not_configured"
	CodeInternal         = "internal"
)

// Write sends status with the JSON error body.
func Write(w http.ResponseWriter, status int, code, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Body{Detail{Code: code, Message: message}})
}
