package standardwebhooks

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Test vectors from OpenAI's SDK and the Standard Webhooks specification.
var vectors = map[string]struct {
	secret, id string
	ts         int64
	body, want string
}{
	"openai-sdk": {
		secret: "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=",
		id:     "wh_685c059ae39c8190af8c71ed1022a24d",
		ts:     1750861210,
		body:   `{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210, "type": "response.completed", "data": {"id": "resp_123"}}`,
		want:   "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY=",
	},
	"standard-webhooks": {
		secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		id:     "msg_p5jXN8AQM9LWM0D4loKWxJek",
		ts:     1614265330,
		body:   `{"test": 2432232314}`,
		want:   "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	},
}

func mustSecret(t testing.TB, s string) Secret {
	t.Helper()
	sec, err := ParseSecret(s)
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return sec
}

func TestSignMatchesVectors(t *testing.T) {
	for name, v := range vectors {
		t.Run(name, func(t *testing.T) {
			got := mustSecret(t, v.secret).Sign(v.id, time.Unix(v.ts, 0), []byte(v.body))
			if got != v.want {
				t.Fatalf("Sign = %q, want %q", got, v.want)
			}
		})
	}
}

func TestVerifyAcceptsVectors(t *testing.T) {
	for name, v := range vectors {
		t.Run(name, func(t *testing.T) {
			h := Headers{ID: v.id, Timestamp: strconv.FormatInt(v.ts, 10), Signature: v.want}
			if err := Verify([]Secret{mustSecret(t, v.secret)}, h, []byte(v.body), time.Unix(v.ts, 0), DefaultTolerance); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	v := vectors["openai-sdk"]
	sec := mustSecret(t, v.secret)
	other := mustSecret(t, "whsec_"+strings.Repeat("QUJD", 8))
	now := time.Unix(v.ts, 0)
	ts := strconv.FormatInt(v.ts, 10)
	body := []byte(v.body)

	cases := map[string]struct {
		secrets []Secret
		h       Headers
		body    []byte
		now     time.Time
		want    error
	}{
		"valid":                      {[]Secret{sec}, Headers{v.id, ts, v.want}, body, now, nil},
		"second of two signatures":   {[]Secret{sec}, Headers{v.id, ts, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + v.want}, body, now, nil},
		"second of two secrets":      {[]Secret{other, sec}, Headers{v.id, ts, v.want}, body, now, nil},
		"exactly 300s old":           {[]Secret{sec}, Headers{v.id, ts, v.want}, body, now.Add(300 * time.Second), nil},
		"exactly 300s ahead":         {[]Secret{sec}, Headers{v.id, ts, v.want}, body, now.Add(-300 * time.Second), nil},
		"301s old":                   {[]Secret{sec}, Headers{v.id, ts, v.want}, body, now.Add(301 * time.Second), ErrTimestampTooOld},
		"301s ahead":                 {[]Secret{sec}, Headers{v.id, ts, v.want}, body, now.Add(-301 * time.Second), ErrTimestampFuture},
		"wrong secret":               {[]Secret{other}, Headers{v.id, ts, v.want}, body, now, ErrNoMatch},
		"tampered body":              {[]Secret{sec}, Headers{v.id, ts, v.want}, append([]byte{' '}, body...), now, ErrNoMatch},
		"tampered id":                {[]Secret{sec}, Headers{v.id + "x", ts, v.want}, body, now, ErrNoMatch},
		"v1a scheme never matches":   {[]Secret{sec}, Headers{v.id, ts, "v1a," + strings.TrimPrefix(v.want, "v1,")}, body, now, ErrNoMatch},
		"garbage signature":          {[]Secret{sec}, Headers{v.id, ts, "v1,!!!"}, body, now, ErrNoMatch},
		"missing id":                 {[]Secret{sec}, Headers{"", ts, v.want}, body, now, ErrMissingHeader},
		"missing signature":          {[]Secret{sec}, Headers{v.id, ts, ""}, body, now, ErrMissingHeader},
		"timestamp not a number":     {[]Secret{sec}, Headers{v.id, "yesterday", v.want}, body, now, ErrMalformedHeader},
		"timestamp in milliseconds":  {[]Secret{sec}, Headers{v.id, ts + "000", v.want}, body, now, ErrTimestampFuture},
		"no secrets":                 {nil, Headers{v.id, ts, v.want}, body, now, ErrNoSecrets},
		"signature without a scheme": {[]Secret{sec}, Headers{v.id, ts, strings.TrimPrefix(v.want, "v1,")}, body, now, ErrNoMatch},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := Verify(tc.secrets, tc.h, tc.body, tc.now, DefaultTolerance)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	cases := map[string]struct {
		in      string
		wantErr string
	}{
		"openai form":       {in: "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="},
		"trailing newline":  {in: "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=\n"},
		"unpadded":          {in: "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c"},
		"no prefix":         {in: "RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=", wantErr: `must start with "whsec_"`},
		"not base64":        {in: "whsec_not*base64", wantErr: "not valid base64"},
		"too short":         {in: "whsec_QUJDRA==", wantErr: "at least 24"},
		"empty after whsec": {in: "whsec_", wantErr: "at least 24"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSecret(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseSecret: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseSecret error = %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(tc.in, "whsec_")) && len(tc.in) > 8 {
				t.Fatalf("error %q reveals the secret", err)
			}
		})
	}
}

func TestSecretIsRedactedInFormatting(t *testing.T) {
	sec := mustSecret(t, vectors["openai-sdk"].secret)
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x"} {
		if got := fmt.Sprintf(verb, sec); strings.Contains(got, "RdvaYFYU") {
			t.Errorf("%s formats the secret: %q", verb, got)
		}
	}
}

func TestEncodeRoundTrips(t *testing.T) {
	in := vectors["openai-sdk"].secret
	if got := mustSecret(t, in).Encode(); got != in {
		t.Fatalf("Encode = %q, want %q", got, in)
	}
}

func TestVerifyRefusesNonCanonicalBase64(t *testing.T) {
	v := vectors["openai-sdk"]
	// The same 32 bytes as the valid signature, spelled with the padding bits set.
	alt := strings.TrimSuffix(v.want, "Y=") + "Z="
	h := Headers{ID: v.id, Timestamp: strconv.FormatInt(v.ts, 10), Signature: alt}
	if err := Verify([]Secret{mustSecret(t, v.secret)}, h, []byte(v.body), time.Unix(v.ts, 0), DefaultTolerance); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("Verify = %v, want ErrNoMatch for a non-canonical spelling", err)
	}
}

// TestCheckHeaders checks what is refused from the headers alone, before a body is
// read: each case is refused by CheckHeaders with the same error Verify returns, and a
// request CheckHeaders lets through may still fail Verify.
func TestCheckHeaders(t *testing.T) {
	v := vectors["openai-sdk"]
	now := time.Unix(v.ts, 0)
	ts := strconv.FormatInt(v.ts, 10)
	forged := "v1," + strings.Repeat("A", 43) + "="
	cases := map[string]struct {
		h    Headers
		now  time.Time
		want error
	}{
		"valid":                         {Headers{v.id, ts, v.want}, now, nil},
		"well-formed, not authentic":    {Headers{v.id, ts, forged}, now, nil},
		"one usable entry among others": {Headers{v.id, ts, "v1a,xyz v1,short " + forged}, now, nil},
		"missing id":                    {Headers{"", ts, v.want}, now, ErrMissingHeader},
		"missing timestamp":             {Headers{v.id, "", v.want}, now, ErrMissingHeader},
		"missing signature":             {Headers{v.id, ts, ""}, now, ErrMissingHeader},
		"timestamp not a number":        {Headers{v.id, "now", v.want}, now, ErrMalformedHeader},
		"301s old":                      {Headers{v.id, ts, v.want}, now.Add(301 * time.Second), ErrTimestampTooOld},
		"301s ahead":                    {Headers{v.id, ts, v.want}, now.Add(-301 * time.Second), ErrTimestampFuture},
		"only another scheme":           {Headers{v.id, ts, "v1a," + strings.TrimPrefix(v.want, "v1,")}, now, ErrNoMatch},
		"v1 entry of the wrong length":  {Headers{v.id, ts, "v1,AAAA"}, now, ErrNoMatch},
		"v1 entry not base64":           {Headers{v.id, ts, "v1," + strings.Repeat("!", 44)}, now, ErrNoMatch},
		"no scheme":                     {Headers{v.id, ts, strings.TrimPrefix(v.want, "v1,")}, now, ErrNoMatch},
	}
	sec := mustSecret(t, v.secret)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := CheckHeaders(tc.h, tc.now, DefaultTolerance)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckHeaders: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("CheckHeaders = %v, want %v", err, tc.want)
			}
			if verr := Verify([]Secret{sec}, tc.h, []byte(v.body), tc.now, DefaultTolerance); !errors.Is(verr, tc.want) {
				t.Fatalf("Verify = %v, want the same %v", verr, tc.want)
			}
		})
	}
}
