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

package receiver

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzParseEvent feeds the event decoder arbitrary (verified) bodies. It must never
// panic; an error is always errMalformedEvent with a short message that echoes nothing
// of the body; an event it accepts has a bounded id and type, a created_at within the
// range status can hold, a data.id exactly when the operator manages the type, and
// decodes to the same event again from its canonical encoding.
func FuzzParseEvent(f *testing.F) {
	for _, seed := range []string{
		`{"id":"evt_685c059ae3a481909bdc86819b066fb6","object":"event","created_at":1750861210,"type":"response.completed","data":{"id":"resp_123"}}`,
		`{"id":"evt_1","object":"event","created_at":1750861210,"type":"batch.completed","data":{"id":"batch_1"}}`,
		`{"id":"evt_2","type":"batch.failed","data":{"id":"batch_2"}}`,
		`{"id":"evt_3","type":"fine_tuning.job.succeeded","created_at":1750861210,"data":{"id":"ftjob_1"}}`,
		`{"id":"evt_4","type":"eval.run.canceled","data":null}`,
		`{"id":"evt_5","type":"batch.completed","created_at":1.5e9,"data":{"id":"batch_5"}}`,
		`{"id":"evt_6","type":"batch.completed","created_at":-1,"data":{"id":"batch_6"}}`,
		`{"id":"evt_7","type":"response.failed","created_at":253402300800,"data":{"id":"resp_7"}}`,
		`{"id":"evt_8","type":"batch.completed","data":{}}`,
		`{"id":"","type":"batch.completed","data":{"id":"batch_9"}}`,
		`{"ID":"evt_10","TYPE":"batch.expired","Data":{"ID":"batch_10"}}`,
		`{"id":"evt_11","id":"evt_11b","type":"batch.cancelled","data":{"id":"batch_11"}}`,
		` {"id":"evt_12","type":"response.incomplete","data":{"id":"resp_12","extra":[1,2,3]}}`,
		`[{"id":"evt_13"}]`,
		`null`,
		`{"id":"evt_14","type":"batch.completed","created_at":"1750861210","data":{"id":"batch_14"}}`,
		`{"id":"evt_15","type":"batch.completed","created_at":1e400,"data":{"id":"batch_15"}}`,
		"{\"id\":\"evt_\u0000\",\"type\":\"batch.completed\",\"data\":{\"id\":\"batch_\\ud800\"}}",
	} {
		f.Add([]byte(seed), int64(1750861210))
	}
	f.Fuzz(func(t *testing.T, body []byte, fallbackUnix int64) {
		fallback := time.Unix(fallbackUnix, 0)
		evt, err := parseEvent(body, fallback)
		if err != nil {
			if !errors.Is(err, errMalformedEvent) {
				t.Fatalf("error %v is not errMalformedEvent", err)
			}
			if len(err.Error()) > 128 {
				t.Fatalf("error message of %d bytes: it may echo the body", len(err.Error()))
			}
			return
		}
		switch {
		case evt.ID == "" || len(evt.ID) > maxEventIDLen:
			t.Fatalf("accepted an id of %d bytes", len(evt.ID))
		case evt.Type == "" || len(evt.Type) > maxEventTypeLen:
			t.Fatalf("accepted a type of %d bytes", len(evt.Type))
		case !evt.CreatedAt.Equal(fallback) && (evt.CreatedAt.Unix() < 1 || evt.CreatedAt.Unix() > maxUnixSeconds):
			t.Fatalf("accepted created_at %d", evt.CreatedAt.Unix())
		case (kindOf(evt.Type) == kindNone) != (evt.ObjectID == ""):
			t.Fatalf("type %q with data.id %q", evt.Type, evt.ObjectID)
		case !json.Valid(body):
			t.Fatalf("accepted a body that is not JSON")
		}
		// The canonical encoding decodes to the same event (created_at left out when the
		// fallback stood in for it).
		fields := map[string]any{"id": evt.ID, "object": "event", "type": evt.Type, "data": map[string]string{"id": evt.ObjectID}}
		if !evt.CreatedAt.Equal(fallback) {
			fields["created_at"] = evt.CreatedAt.Unix()
		}
		canonical, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseEvent(canonical, fallback)
		if err != nil {
			t.Fatalf("the canonical encoding %s of an accepted event is refused: %v", canonical, err)
		}
		if again.ID != evt.ID || again.Type != evt.Type || !again.CreatedAt.Equal(evt.CreatedAt) || again.ObjectID != evt.ObjectID {
			t.Fatalf("the canonical encoding decodes to %+v, not %+v", again, evt)
		}
	})
}
