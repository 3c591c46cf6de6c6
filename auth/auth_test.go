package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse", DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyPassword("correct horse", h); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := VerifyPassword("wrong horse", h); err != ErrMismatch {
		t.Errorf("wrong password: %v", err)
	}
	h2, _ := HashPassword("correct horse", DefaultArgon2)
	if h == h2 {
		t.Error("two hashes of one password are equal: salt missing")
	}
	if err := VerifyPassword("x", "$2a$10$bcrypt"); err == nil {
		t.Error("foreign hash accepted")
	}
}

func TestTokens(t *testing.T) {
	a, b := NewToken(PrefixSession), NewToken(PrefixSession)
	if a == b || len(a) < 40 || a[:4] != PrefixSession {
		t.Errorf("tokens %q %q", a, b)
	}
	if HashToken(a) == HashToken(b) || len(HashToken(a)) != 64 {
		t.Error("token hashes")
	}
}

func TestSecretBox(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	box, err := NewSecretBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal([]byte("hunter2"), []byte("row-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("plaintext visible in sealed value")
	}
	if pt, err := box.Open(sealed, []byte("row-1")); err != nil || string(pt) != "hunter2" {
		t.Fatalf("open: %q %v", pt, err)
	}
	if _, err := box.Open(sealed, []byte("row-2")); err == nil {
		t.Error("opened with another row's additional data")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := box.Open(sealed, []byte("row-1")); err == nil {
		t.Error("opened a tampered value")
	}
	other, _ := NewSecretBox(bytes.Repeat([]byte{8}, 32))
	good, _ := box.Seal([]byte("x"), nil)
	if _, err := other.Open(good, nil); err == nil {
		t.Error("opened with the wrong key")
	}
	if _, err := NewSecretBox([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secret.key")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("key changed on reload")
	}
	if _, err := ParseKey("zz"); err == nil {
		t.Error("bad key accepted")
	}
}
