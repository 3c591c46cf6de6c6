package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/vigilscan/vigil"
)

// Error is the body of every error response:
// {"status": 422, "status_text": "Parameter Error", "errors": {"field": ["msg"]}}.
type Error struct {
	Status     int                 `json:"status" example:"422" doc:"HTTP status code"`
	StatusText string              `json:"status_text" example:"Parameter Error" doc:"Unauthorized, Forbidden, Record Not Found, Parameter Error, Too Many Requests or Internal Server Error"`
	Message    string              `json:"message,omitempty" example:"hosts exceed the maximum" doc:"What went wrong, when it is not one field's fault"`
	Errors     map[string][]string `json:"errors,omitempty" doc:"Messages per field, keyed by the field's path in the request (target.hosts, q[name], page)"`

	retryAfter time.Duration
}

func (e *Error) Error() string  { return e.StatusText + ": " + e.Message }
func (e *Error) GetStatus() int { return e.Status }

// GetHeaders implements huma.HeadersError: 429 carries Retry-After.
func (e *Error) GetHeaders() http.Header {
	h := http.Header{}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	return h
}

// statusTexts are the CG wording of each status.
var statusTexts = map[int]string{
	http.StatusBadRequest:            "Parameter Error",
	http.StatusUnauthorized:          "Unauthorized",
	http.StatusForbidden:             "Forbidden",
	http.StatusNotFound:              "Record Not Found",
	http.StatusMethodNotAllowed:      "Method Not Allowed",
	http.StatusConflict:              "Conflict",
	http.StatusRequestEntityTooLarge: "Request Entity Too Large",
	http.StatusUnsupportedMediaType:  "Unsupported Media Type",
	http.StatusUnprocessableEntity:   "Parameter Error",
	http.StatusTooManyRequests:       "Too Many Requests",
	http.StatusInternalServerError:   "Internal Server Error",
}

// codeStatus maps domain error codes to statuses: the one table.
var codeStatus = map[string]int{
	vigil.EINVALID:      http.StatusUnprocessableEntity,
	vigil.ECONFLICT:     http.StatusUnprocessableEntity, // CG reports "in use" and duplicates as 422
	vigil.ENOTFOUND:     http.StatusNotFound,
	vigil.EUNAUTHORIZED: http.StatusUnauthorized,
	vigil.EFORBIDDEN:    http.StatusForbidden,
	vigil.ERATELIMIT:    http.StatusTooManyRequests,
	vigil.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	vigil.EINTERNAL:     http.StatusInternalServerError,
}

func newError(status int, msg string, fields map[string][]string) *Error {
	// A request the server cannot parse is the caller's parameter error: CG
	// answers 422 for every malformed input, so 400 never reaches the wire.
	if status == http.StatusBadRequest {
		status = http.StatusUnprocessableEntity
	}
	text, ok := statusTexts[status]
	if !ok {
		text = http.StatusText(status)
	}
	return &Error{Status: status, StatusText: text, Message: msg, Errors: fields}
}

// humaError adapts huma's own errors (validation, parsing) to our body. Each
// huma.ErrorDetail becomes a field entry keyed by its location without the
// "body." / "query." / "path." prefix.
func humaError(status int, msg string, errs ...error) huma.StatusError {
	fields := map[string][]string{}
	for _, err := range errs {
		var d huma.ErrorDetailer
		if !errors.As(err, &d) {
			if err != nil {
				fields["request"] = append(fields["request"], err.Error())
			}
			continue
		}
		detail := d.ErrorDetail()
		loc := detail.Location
		for _, p := range []string{"body.", "query.", "path.", "header."} {
			loc = strings.TrimPrefix(loc, p)
		}
		if loc == "" {
			loc = "body"
		}
		m := detail.Message
		// Name the missing field itself, as our own validation does.
		if name, ok := strings.CutPrefix(m, "expected required property "); ok {
			if name, ok = strings.CutSuffix(name, " to be present"); ok {
				if loc == "body" {
					loc = name
				} else {
					loc += "." + name
				}
				m = "can't be blank"
			}
		}
		if strings.HasPrefix(m, "invalid character") || strings.HasPrefix(m, "unexpected end of JSON") {
			m = "malformed JSON: " + m
		}
		fields[loc] = append(fields[loc], m)
	}
	if len(fields) == 0 {
		fields = nil
	}
	switch msg {
	case "validation failed", "request body is required", "":
		msg = ""
	}
	return newError(status, msg, fields)
}

func init() {
	// note: huma builds its parse and validation errors through this package
	// variable; replacing it is huma's documented way to own the error body.
	huma.NewError = humaError
}

// fail turns a service error into the response error. Unknown errors are
// logged with the request and answered with a bare 500: internals never leave.
func fail(ctx context.Context, log *slog.Logger, err error) error {
	var verr *vigil.Error
	if !errors.As(err, &verr) {
		log.ErrorContext(ctx, "request failed", "err", err)
		return newError(http.StatusInternalServerError, "", nil)
	}
	status, ok := codeStatus[verr.Code]
	if !ok || status == http.StatusInternalServerError {
		log.ErrorContext(ctx, "request failed", "err", err)
		return newError(http.StatusInternalServerError, "", nil)
	}
	e := newError(status, verr.Message, verr.Fields)
	if e.Message == "Parameter Error" {
		e.Message = ""
	}
	e.retryAfter = verr.RetryAfter
	return e
}

// fieldKeys lists the keys of an error map in order, for messages and tests.
func fieldKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
