package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image/png"
	"math/big"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTPPeriod is the length of a TOTP step.
const TOTPPeriod = 30

// TOTPKey is a new TOTP enrolment: the secret, its otpauth:// URI and a QR
// code of the URI as a PNG.
type TOTPKey struct {
	Secret string
	URI    string
	QRPNG  []byte
}

// NewTOTP makes a TOTP secret for account at issuer (SHA-1, 6 digits, 30 s:
// what every authenticator app reads).
func NewTOTP(issuer, account string) (*TOTPKey, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, err
	}
	img, err := k.Image(256, 256)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return &TOTPKey{Secret: k.Secret(), URI: k.URL(), QRPNG: b.Bytes()}, nil
}

// TOTPCode computes the code of secret at t (tests use it as an app would).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// MatchTOTP checks code against secret at now, one step either side for
// clock drift, and returns the step it matched: the caller records it so the
// same code is not accepted twice.
func MatchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	for _, d := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(d*TOTPPeriod) * time.Second)
		want, err := TOTPCode(secret, t)
		if err == nil && hmac.Equal([]byte(want), []byte(code)) {
			return t.Unix() / TOTPPeriod, true
		}
	}
	return 0, false
}

// NewNumericCode returns a random code of n digits (SMS codes).
func NewNumericCode(n int) string {
	max := big.NewInt(1)
	for range n {
		max.Mul(max, big.NewInt(10))
	}
	v, _ := rand.Int(rand.Reader, max)
	return fmt.Sprintf("%0*d", n, v)
}

// RecoveryCodes returns n random codes of ten base32 characters split by a
// dash (e.g. "k3m9p-x2qwe"), 50 bits each.
func RecoveryCodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 7)
		_, _ = rand.Read(b)
		s := strings.ToLower(base32NoPad(b))[:10]
		out[i] = s[:5] + "-" + s[5:]
	}
	return out
}

func base32NoPad(b []byte) string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // no l, o, 0, 1
	var sb strings.Builder
	var acc, bits uint
	for _, c := range b {
		acc = acc<<8 | uint(c)
		bits += 8
		for bits >= 5 {
			sb.WriteByte(alphabet[(acc>>(bits-5))&31])
			bits -= 5
		}
	}
	return sb.String()
}

// HashScoped hashes a short secret (an SMS code, a recovery code) keyed by
// the user it belongs to, so equal codes of two users differ at rest and a
// table of all six-digit hashes is useless without the key.
func HashScoped(key []byte, userID, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write([]byte(strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), " ", ""))))
	return hex.EncodeToString(m.Sum(nil))
}

// PNGDataURI wraps a PNG for JSON.
func PNGDataURI(b []byte) string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b)
}
