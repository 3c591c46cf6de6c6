package auth

import (
	"strings"
	"testing"
	"time"
)

func TestTOTP(t *testing.T) {
	k, err := NewTOTP("Vigil", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.URI, "otpauth://totp/Vigil:alice@example.com?") || len(k.QRPNG) < 100 || string(k.QRPNG[1:4]) != "PNG" {
		t.Fatalf("key %q, png %d bytes", k.URI, len(k.QRPNG))
	}
	now := time.Unix(1_700_000_000, 0)
	code, _ := TOTPCode(k.Secret, now)
	step, ok := MatchTOTP(k.Secret, code, now)
	if !ok || step != now.Unix()/30 {
		t.Fatalf("match %v step %d", ok, step)
	}
	if _, ok := MatchTOTP(k.Secret, code, now.Add(30*time.Second)); !ok {
		t.Error("previous step refused (clock drift)")
	}
	if _, ok := MatchTOTP(k.Secret, code, now.Add(2*time.Minute)); ok {
		t.Error("a code two minutes old accepted")
	}
	if _, ok := MatchTOTP(k.Secret, "000000x", now); ok {
		t.Error("malformed code accepted")
	}
}

func TestCodes(t *testing.T) {
	codes := RecoveryCodes(10)
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Errorf("code %q", c)
		}
		seen[c] = true
	}
	if c := NewNumericCode(6); len(c) != 6 || strings.Trim(c, "0123456789") != "" {
		t.Errorf("numeric code %q", c)
	}
	key := []byte("k")
	if HashScoped(key, "u1", "ABCDE-FGHIJ") != HashScoped(key, "u1", " abcde-fghij ") || HashScoped(key, "u1", "x") == HashScoped(key, "u2", "x") {
		t.Error("scoped hash")
	}
}
