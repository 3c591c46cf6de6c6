package vigil

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Error codes. Each maps to one HTTP status in httpapi's error table.
const (
	ECONFLICT     = "conflict"     // the request conflicts with existing state (in use, duplicate)
	EINTERNAL     = "internal"     // anything unexpected; never shown to the client
	EINVALID      = "invalid"      // validation failed; Fields says where
	ENOTFOUND     = "not_found"    // missing, or belongs to another organization
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EFORBIDDEN    = "forbidden"    // authenticated but the role may not do this
	ERATELIMIT    = "rate_limited" // too many attempts; RetryAfter says when to come back
	ETOOLARGE     = "too_large"    // request body over the limit
)

// Error is a domain error with a machine-readable code and a message safe to
// show to the client. Fields carries per-field validation detail keyed by the
// request path of the field (for example "target.hosts").
type Error struct {
	Code       string
	Message    string
	Fields     map[string][]string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("vigil error: code=%s message=%s", e.Code, e.Message)
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, e.Fields[k])
	}
	return fmt.Sprintf("vigil error: code=%s message=%s%s", e.Code, e.Message, b.String())
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the root *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err, or "Internal error".
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// NotFound is the error for a record that does not exist or is not visible to
// the caller. The two cases are deliberately indistinguishable.
func NotFound(what string) *Error {
	return &Error{Code: ENOTFOUND, Message: what + " not found"}
}

// Validation collects field errors; its Err method returns nil when empty.
type Validation struct {
	prefix string
	fields map[string][]string
}

// NewValidation returns a collector whose field names are prefixed with
// prefix (the wrapper key of the request body, e.g. "target").
func NewValidation(prefix string) *Validation {
	return &Validation{prefix: prefix, fields: map[string][]string{}}
}

// Add records msg against field.
func (v *Validation) Add(field, msg string) {
	if v.prefix != "" {
		field = v.prefix + "." + field
	}
	v.fields[field] = append(v.fields[field], msg)
}

// Addf records a formatted message against field.
func (v *Validation) Addf(field, format string, args ...any) {
	v.Add(field, fmt.Sprintf(format, args...))
}

// Has reports whether field already has an error.
func (v *Validation) Has(field string) bool {
	if v.prefix != "" {
		field = v.prefix + "." + field
	}
	return len(v.fields[field]) > 0
}

// Err returns the collected errors as an EINVALID *Error, or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "Parameter Error", Fields: v.fields}
}

// FieldError is a one-field EINVALID error.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Message: "Parameter Error", Fields: map[string][]string{field: {fmt.Sprintf(format, args...)}}}
}

// FieldsOf returns the field errors of an EINVALID error (nil otherwise).
func FieldsOf(err error) map[string][]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
