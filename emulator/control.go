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

package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// serveControl serves the control API under /emulator/ (no authentication):
//
//	GET  /emulator/healthz         "ok"
//	GET  /emulator/faults          the fault knobs
//	PUT  /emulator/faults          set knobs (fields left out keep their value)
//	GET  /emulator/stats           Stats
//	POST /emulator/reset-stats     zero the counters
//	GET  /emulator/webhooks        the webhook endpoints of every project
//	POST /emulator/webhooks        {"url": "..."} adds an unnamed endpoint of the default project
//	DELETE /emulator/webhooks      {"url": "..."} or ?url=... removes the endpoints with that URL
//	GET  /emulator/projects        the projects (ids, numbers of keys and endpoints)
//	POST /emulator/projects        {"id": "proj_x", "api_keys": ["sk-..."]} adds a project or keys
//	GET  /emulator/inject          the pending injections
//	POST /emulator/inject          {"op","fault","count","retry_after","hold"} adds one (see Injection)
//	DELETE /emulator/inject        drops every pending injection
//	GET  /emulator/keys            every key, masked, with its state
//	PUT  /emulator/keys            {"key": "sk-...", "state": "revoked"|"read_only"|"active"}
//
//nolint:gocyclo // one case per control endpoint, as the doc comment lists them
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/emulator"), "/")
	allow := func(methods ...string) bool {
		for _, m := range methods {
			if r.Method == m {
				return true
			}
		}
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeControlError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path)
		return false
	}
	switch path {
	case "/healthz":
		if allow(http.MethodGet, http.MethodHead) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		}
	case "/faults":
		if !allow(http.MethodGet, http.MethodPut) {
			return
		}
		if r.Method == http.MethodPut {
			f := e.Faults()
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
			if err == nil {
				err = json.Unmarshal(body, &f)
			}
			if err == nil {
				err = f.validate()
			}
			if err != nil {
				writeControlError(w, http.StatusBadRequest, "invalid faults: "+err.Error())
				return
			}
			e.SetFaults(f)
			e.log.Info("Changed fault knobs", "faults", f)
		}
		writeJSON(w, http.StatusOK, e.Faults())
	case "/stats":
		if allow(http.MethodGet) {
			writeJSON(w, http.StatusOK, e.Stats())
		}
	case "/reset-stats":
		if allow(http.MethodPost) {
			e.ResetStats()
			w.WriteHeader(http.StatusNoContent)
		}
	case "/webhooks":
		if !allow(http.MethodGet, http.MethodPost, http.MethodDelete) {
			return
		}
		switch r.Method {
		case http.MethodPost:
			u, ok := controlURL(w, r)
			if !ok {
				return
			}
			if err := e.hooks.addURL(u); err != nil {
				writeControlError(w, http.StatusBadRequest, err.Error())
				return
			}
			e.log.Info("Added webhook endpoint", "endpoint", redactURL(u))
		case http.MethodDelete:
			u, ok := controlURL(w, r)
			if !ok {
				return
			}
			if !e.hooks.removeURL(u) {
				writeControlError(w, http.StatusNotFound, "no such webhook endpoint")
				return
			}
			e.log.Info("Removed webhook endpoint", "endpoint", redactURL(u))
		}
		writeJSON(w, http.StatusOK, e.hooks.list())
	case "/inject":
		if !allow(http.MethodGet, http.MethodPost, http.MethodDelete) {
			return
		}
		switch r.Method {
		case http.MethodPost:
			var in Injection
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
			if err == nil {
				err = json.Unmarshal(body, &in)
			}
			if err == nil {
				err = e.Inject(in)
			}
			if err != nil {
				writeControlError(w, http.StatusBadRequest, "invalid injection: "+err.Error())
				return
			}
			e.log.Info("Injected a fault", "op", in.Op, "fault", in.Fault, "count", max(in.Count, 1))
		case http.MethodDelete:
			e.ClearInjections()
		}
		writeJSON(w, http.StatusOK, e.Injections())
	case "/keys":
		if !allow(http.MethodGet, http.MethodPut) {
			return
		}
		if r.Method == http.MethodPut {
			var body struct {
				Key   string   `json:"key"`
				State KeyState `json:"state"`
			}
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
			if err == nil {
				err = jsonUnmarshalStrict(b, &body)
			}
			if err == nil {
				err = e.SetKeyState(body.Key, body.State)
			}
			if err != nil {
				writeControlError(w, http.StatusBadRequest, "invalid key state: "+err.Error())
				return
			}
			e.log.Info("Changed an API key's state", "key", maskKey(body.Key), "state", body.State)
		}
		writeJSON(w, http.StatusOK, e.sortedKeyStates())
	case "/projects":
		if !allow(http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodPost {
			var body struct {
				ID      string   `json:"id"`
				APIKeys []string `json:"api_keys"`
			}
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
			if err == nil {
				err = json.Unmarshal(b, &body)
			}
			if err == nil {
				err = e.AddProject(body.ID, body.APIKeys...)
			}
			if err != nil {
				writeControlError(w, http.StatusBadRequest, "invalid project: "+err.Error())
				return
			}
			e.log.Info("Added a project or API keys", "project", body.ID, "apiKeys", len(body.APIKeys))
		}
		writeJSON(w, http.StatusOK, e.Projects())
	default:
		writeControlError(w, http.StatusNotFound, "unknown control path "+r.URL.Path)
	}
}

// controlURL reads the endpoint URL from ?url= or a {"url": "..."} body.
func controlURL(w http.ResponseWriter, r *http.Request) (string, bool) {
	if u := r.URL.Query().Get("url"); u != "" {
		return u, true
	}
	var body struct {
		URL string `json:"url"`
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(b, &body)
	}
	if err != nil || body.URL == "" {
		writeControlError(w, http.StatusBadRequest, `expected ?url=... or a JSON body {"url": "..."}`)
		return "", false
	}
	return body.URL, true
}

func writeControlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg}})
}
