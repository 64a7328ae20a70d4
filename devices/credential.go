package devices

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// SecretBytes is the size of a device secret before encoding.
const SecretBytes = 32

// NewSecret returns a fresh device secret: 32 random bytes, base64url
// without padding (43 characters).
func NewSecret() (string, error) {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Argon2Params are the argon2id cost parameters written into every new
// hash. Device secrets carry 256 bits of entropy, so the hash needs no
// stretching against guessing; it only keeps a copy of the database from
// revealing them. The defaults therefore favour a cheap cold CONNECT.
type Argon2Params struct {
	Time      uint32 // passes; default 1
	MemoryKiB uint32 // memory in KiB; default 4096 (4 MiB)
	Threads   uint8  // lanes; default 1
	SaltLen   int    // bytes; default 16
	KeyLen    uint32 // bytes; default 32
}

// DefaultArgon2 are the parameters used when none are given.
var DefaultArgon2 = Argon2Params{Time: 1, MemoryKiB: 4 << 10, Threads: 1, SaltLen: 16, KeyLen: 32}

func (p Argon2Params) withDefaults() Argon2Params {
	d := DefaultArgon2
	if p.Time > 0 {
		d.Time = p.Time
	}
	if p.MemoryKiB > 0 {
		d.MemoryKiB = p.MemoryKiB
	}
	if p.Threads > 0 {
		d.Threads = p.Threads
	}
	if p.SaltLen > 0 {
		d.SaltLen = p.SaltLen
	}
	if p.KeyLen > 0 {
		d.KeyLen = p.KeyLen
	}
	return d
}

// ErrBadHash is returned for a stored hash that cannot be parsed.
var ErrBadHash = errors.New("devices: malformed password hash")

// HashSecret returns the argon2id hash of secret as a PHC string:
// $argon2id$v=19$m=<KiB>,t=<time>,p=<threads>$<salt>$<hash> (base64, no padding).
func HashSecret(secret string, p Argon2Params) (string, error) {
	p = p.withDefaults()
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	key := argon2.IDKey([]byte(secret), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifySecret reports whether secret matches the PHC argon2id hash.
func VerifySecret(secret, phc string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, ErrBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 || t > 64 {
		return false, ErrBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, ErrBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return false, ErrBadHash
	}
	got := argon2.IDKey([]byte(secret), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// MosquittoIterations is the PBKDF2 iteration count of exported Mosquitto
// hashes (mosquitto_passwd uses 101; Mosquitto reads the count from each
// line, so any value works).
const MosquittoIterations = 1000

// MosquittoHash returns secret hashed the way mosquitto_passwd does for
// Mosquitto 2.x: $7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>,
// with a 12-byte salt and a 64-byte key, standard base64 with padding.
func MosquittoHash(secret string, iterations int) (string, error) {
	if iterations <= 0 {
		iterations = MosquittoIterations
	}
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("mosquitto hash: %w", err)
	}
	key, err := pbkdf2.Key(sha512.New, secret, salt, iterations, sha512.Size)
	if err != nil {
		return "", fmt.Errorf("mosquitto hash: %w", err)
	}
	b64 := base64.StdEncoding
	return "$7$" + strconv.Itoa(iterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// VerifyMosquittoHash reports whether secret matches a $7$ hash, as
// Mosquitto would check it.
func VerifyMosquittoHash(secret, hash string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "7" {
		return false, ErrBadHash
	}
	iter, err := strconv.Atoi(parts[2])
	if err != nil || iter <= 0 || iter > 10_000_000 {
		return false, ErrBadHash
	}
	salt, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(salt) == 0 {
		return false, ErrBadHash
	}
	want, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(want) != sha512.Size {
		return false, ErrBadHash
	}
	got, err := pbkdf2.Key(sha512.New, secret, salt, iter, len(want))
	if err != nil {
		return false, fmt.Errorf("mosquitto verify: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
