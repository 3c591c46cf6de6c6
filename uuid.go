package vigil

import "github.com/google/uuid"

// NewID returns a new random (v7, time-ordered) UUID string. Time order keeps
// inserts at the end of primary-key indexes.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// IsUUID reports whether s is a UUID in canonical form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
