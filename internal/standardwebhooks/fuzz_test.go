package standardwebhooks

import (
	"strconv"
	"testing"
	"time"
)

// FuzzVerify checks that Verify never panics on any headers and body, and that it
// accepts only what carries a valid signature of the exact body.
func FuzzVerify(f *testing.F) {
	v := vectors["openai-sdk"]
	sec := mustSecret(f, v.secret)
	f.Add(v.id, strconv.FormatInt(v.ts, 10), v.want, []byte(v.body))
	f.Add(v.id, strconv.FormatInt(v.ts, 10), "v1,AAAA v1a,BBBB "+v.want, []byte(v.body))
	f.Add("", "", "", []byte{})
	f.Add("id", "-1", "v1,", []byte("{}"))
	f.Add("id", "99999999999999999999", "v1,====", []byte("{}"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		now := time.Unix(v.ts, 0)
		err := Verify([]Secret{sec}, Headers{ID: id, Timestamp: ts, Signature: sig}, body, now, DefaultTolerance)
		if err != nil {
			return
		}
		// Accepted: the header must hold the signature the secret makes.
		want := sec.SignRaw(id, ts, body)
		found := false
		for i := 0; i+len(want) <= len(sig); i++ {
			if sig[i:i+len(want)] == want {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("accepted a request without its valid signature: id=%q ts=%q sig=%q", id, ts, sig)
		}
	})
}
