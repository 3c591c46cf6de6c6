package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Token prefixes make leaked secrets recognizable to secret scanners.
const (
	PrefixSession       = "vgs_"
	PrefixAPIKey        = "vgk_"
	PrefixAccess        = "vga_" // long-lived access tokens
	PrefixImpersonation = "vgi_"
	PrefixSSAPI         = "vgf_" // per-user SSAPI keys
	PrefixOneTime       = "vgo_" // links in e-mails, otp_session_state
)

// NewToken returns a random token with prefix: 32 bytes of entropy, base64url.
func NewToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails since Go 1.24: it crashes the program rather than return weak bytes
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is the stored form of a token: hex SHA-256. Tokens carry 256 bits
// of entropy, so a fast hash is enough (unlike passwords).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
