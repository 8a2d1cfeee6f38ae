/*
Copyright 2026 The openai-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package standardwebhooks signs and verifies webhook requests per the Standard Webhooks
// specification (https://www.standardwebhooks.com), which OpenAI follows.
//
// A secret is "whsec_" followed by base64 of the key. The signed content is
// webhook-id + "." + webhook-timestamp + "." + body, and the signature header holds one
// or more space-separated "v1,<base64 HMAC-SHA256>" entries, any of which may match.
package standardwebhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret OpenAI issues.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a timestamp may be from now, either way.
const DefaultTolerance = 5 * time.Minute

// strictBase64 refuses non-canonical encodings (padding bits set), so a signature has
// exactly one accepted spelling, as when signatures are compared as text.
var strictBase64 = base64.StdEncoding.Strict()

// minKeyLen is the shortest key accepted, in bytes.
const minKeyLen = 24

// Errors returned by Verify. ErrMissingHeader and ErrMalformedHeader describe requests
// that are not webhooks at all (HTTP 400); the others describe requests that fail
// authentication (HTTP 401).
var (
	ErrMissingHeader   = errors.New("missing webhook header")
	ErrMalformedHeader = errors.New("malformed webhook header")
	ErrTimestampTooOld = errors.New("webhook timestamp is too old")
	ErrTimestampFuture = errors.New("webhook timestamp is too far in the future")
	ErrNoMatch         = errors.New("no matching webhook signature")
	ErrNoSecrets       = errors.New("no webhook secret configured")
)

// Secret is a parsed signing secret. Its String method never reveals the key.
type Secret struct {
	key  []byte
	pool *sync.Pool // of hash.Hash keyed with key
}

// ParseSecret parses a "whsec_<base64>" secret. Surrounding whitespace is ignored.
// The error never contains the secret.
func ParseSecret(s string) (Secret, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return Secret{}, fmt.Errorf("webhook secret must start with %q followed by base64 (the form OpenAI shows when it creates the endpoint)", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		// Accept unpadded base64 too; some tools strip the padding.
		key, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(rest, "="))
		if err != nil {
			return Secret{}, errors.New("webhook secret after \"whsec_\" is not valid base64")
		}
	}
	if len(key) < minKeyLen {
		return Secret{}, fmt.Errorf("webhook secret key is %d bytes; at least %d are required", len(key), minKeyLen)
	}
	return NewSecret(key), nil
}

// NewSecret makes a Secret from raw key bytes.
func NewSecret(key []byte) Secret {
	k := append([]byte(nil), key...)
	return Secret{key: k, pool: &sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}}
}

// Encode returns the secret in its "whsec_" form, for tools that generate secrets
// (the emulator). Never log it.
func (s Secret) Encode() string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(s.key)
}

// String hides the key from every fmt verb and from loggers.
func (s Secret) String() string { return "[redacted webhook secret]" }

// GoString hides the key from %#v.
func (s Secret) GoString() string { return s.String() }

// IsZero reports whether s holds no key.
func (s Secret) IsZero() bool { return len(s.key) == 0 }

// Equal reports whether two secrets hold the same key.
func (s Secret) Equal(o Secret) bool { return hmac.Equal(s.key, o.key) }

// mac writes the raw HMAC of the signed content into dst and returns it.
func (s Secret) mac(dst []byte, id, timestamp string, body []byte) []byte {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	writeString(h, id)
	h.Write([]byte{'.'})
	writeString(h, timestamp)
	h.Write([]byte{'.'})
	h.Write(body)
	dst = h.Sum(dst)
	s.pool.Put(h)
	return dst
}

// Sign returns the "v1,<base64>" signature of body for the given id and timestamp.
func (s Secret) Sign(id string, timestamp time.Time, body []byte) string {
	return s.SignRaw(id, strconv.FormatInt(timestamp.Unix(), 10), body)
}

// SignRaw is Sign with the timestamp header value given as is.
func (s Secret) SignRaw(id, timestamp string, body []byte) string {
	var buf [sha256.Size]byte
	sum := s.mac(buf[:0], id, timestamp, body)
	return "v1," + base64.StdEncoding.EncodeToString(sum)
}

// Headers are the three Standard Webhooks headers of a request.
type Headers struct {
	ID        string
	Timestamp string
	Signature string
}

// HeadersFrom reads the webhook headers from h.
func HeadersFrom(h http.Header) Headers {
	return Headers{ID: h.Get(HeaderID), Timestamp: h.Get(HeaderTimestamp), Signature: h.Get(HeaderSignature)}
}

// Set writes the headers into h.
func (hd Headers) Set(h http.Header) {
	h.Set(HeaderID, hd.ID)
	h.Set(HeaderTimestamp, hd.Timestamp)
	h.Set(HeaderSignature, hd.Signature)
}

// CheckHeaders checks what can be checked before the body is read: the three headers
// are present and well formed, the timestamp is within tolerance of now (either way), and
// the signature header holds at least one v1 entry of the right shape. It returns nil or
// the error Verify would return for these headers. Nil does not mean the request is
// authentic: only Verify, with the body, decides that. A server that checks the headers
// first refuses most unauthenticated requests without reading their bodies.
func CheckHeaders(h Headers, now time.Time, tolerance time.Duration) error {
	var missing []string
	for _, hv := range [...]struct{ name, value string }{{HeaderID, h.ID}, {HeaderTimestamp, h.Timestamp}, {HeaderSignature, h.Signature}} {
		if hv.value == "" {
			missing = append(missing, hv.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingHeader, strings.Join(missing, ", "))
	}
	ts, err := strconv.ParseInt(h.Timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not a unix time in seconds", ErrMalformedHeader, HeaderTimestamp)
	}
	limit := int64(tolerance / time.Second)
	if age := now.Unix() - ts; age > limit {
		return fmt.Errorf("%w: %ds old, tolerance is %s", ErrTimestampTooOld, age, tolerance)
	} else if -age > limit {
		return fmt.Errorf("%w: %ds ahead, tolerance is %s", ErrTimestampFuture, -age, tolerance)
	}
	sawV1 := false
	for entry := range strings.FieldsSeq(h.Signature) {
		sig, ok := strings.CutPrefix(entry, "v1,")
		if !ok {
			continue
		}
		sawV1 = true
		if _, ok := decodeSignature(sig); ok {
			return nil
		}
	}
	if !sawV1 {
		return fmt.Errorf("%w: %s has no v1 entry", ErrNoMatch, HeaderSignature)
	}
	return fmt.Errorf("%w: %s has no well-formed v1 entry", ErrNoMatch, HeaderSignature)
}

// decodeSignature decodes the base64 of a v1 entry; ok is false unless it is exactly
// one canonical encoding of an HMAC-SHA256.
func decodeSignature(sig string) (mac [sha256.Size]byte, ok bool) {
	if len(sig) != base64.StdEncoding.EncodedLen(sha256.Size) {
		return mac, false
	}
	// Room for what 44 base64 characters can decode to (33 bytes); a valid signature is 32.
	var buf [sha256.Size + 1]byte
	if n, err := strictBase64.Decode(buf[:], []byte(sig)); err != nil || n != sha256.Size {
		return mac, false
	}
	copy(mac[:], buf[:sha256.Size])
	return mac, true
}

// Verify checks that body was signed by one of secrets, with a timestamp within
// tolerance of now (either way). It returns nil, or one of the package's errors
// (wrapped with detail that never includes a secret).
func Verify(secrets []Secret, h Headers, body []byte, now time.Time, tolerance time.Duration) error {
	if err := CheckHeaders(h, now, tolerance); err != nil {
		return err
	}
	if len(secrets) == 0 {
		return ErrNoSecrets
	}

	// Each secret's MAC is computed at most once, however many entries the header has.
	var stack [2][sha256.Size]byte
	macs := make([][]byte, len(secrets))
	for entry := range strings.FieldsSeq(h.Signature) {
		sig, ok := strings.CutPrefix(entry, "v1,")
		if !ok {
			continue // other schemes (v1a, ...) never match an HMAC secret
		}
		want, ok := decodeSignature(sig)
		if !ok {
			continue
		}
		for i, s := range secrets {
			if macs[i] == nil {
				var dst []byte
				if i < len(stack) {
					dst = stack[i][:0]
				}
				macs[i] = s.mac(dst, h.ID, h.Timestamp, body)
			}
			if hmac.Equal(macs[i], want[:]) {
				return nil
			}
		}
	}
	return ErrNoMatch
}

func writeString(h hash.Hash, s string) {
	if sw, ok := h.(interface{ WriteString(string) (int, error) }); ok {
		_, _ = sw.WriteString(s)
		return
	}
	h.Write([]byte(s))
}
