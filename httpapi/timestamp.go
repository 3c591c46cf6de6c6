package httpapi

import (
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Timestamp is a time on the wire: ISO-8601 UTC with milliseconds
// ("2024-03-04T13:04:41.814Z"), as the CG API emits.
type Timestamp time.Time

const timestampLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(timestampLayout) + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler: any RFC 3339 time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = Timestamp(v)
	return nil
}

// Schema implements huma.SchemaProvider.
func (Timestamp) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Format: "date-time", Examples: []any{"2024-03-04T13:04:41.814Z"}}
}

func ts(t time.Time) Timestamp { return Timestamp(t) }

func tsp(t *time.Time) *Timestamp {
	if t == nil {
		return nil
	}
	v := Timestamp(*t)
	return &v
}

// String is the wire form without quotes (CSV exports).
func (t Timestamp) String() string { return time.Time(t).UTC().Format(timestampLayout) }
