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
	"fmt"
	"net/http"
	"sort"
)

// KeyState is what the emulator does with the calls made with one API key. Keys are
// revoked and restored at run time with SetKeyState (or PUT /emulator/keys).
type KeyState string

// Key states.
const (
	// KeyActive keys work.
	KeyActive KeyState = "active"
	// KeyRevoked keys are refused with 401 invalid_api_key, as OpenAI refuses a revoked
	// or deleted key.
	KeyRevoked KeyState = "revoked"
	// KeyReadOnly keys may read (GET); any other call is refused with 401 and OpenAI's
	// "Missing scopes" message, as for a restricted key without write permissions.
	KeyReadOnly KeyState = "read_only"
)

// SetKeyState changes what calls made with key get. key must be an API key of some
// project (Options.APIKeys, Options.Projects or AddProject).
func (e *Emulator) SetKeyState(key string, s KeyState) error {
	if _, ok := e.projects.projectOfKey(key); !ok {
		return fmt.Errorf("unknown API key %s", maskKey(key))
	}
	switch s {
	case KeyActive, KeyRevoked, KeyReadOnly:
	default:
		return fmt.Errorf("unknown key state %q: one of %q, %q, %q", s, KeyActive, KeyRevoked, KeyReadOnly)
	}
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	if s == KeyActive {
		delete(e.keyStates, key)
	} else {
		e.keyStates[key] = s
	}
	return nil
}

// KeyStates returns the state of every accepted key, keyed by the key masked as
// OpenAI masks it ("sk-em***or").
func (e *Emulator) KeyStates() map[string]KeyState {
	e.keyMu.RLock()
	defer e.keyMu.RUnlock()
	keys := e.projects.allKeys()
	out := make(map[string]KeyState, len(keys))
	for _, k := range keys {
		s := e.keyStates[k]
		if s == "" {
			s = KeyActive
		}
		out[maskKey(k)] = s
	}
	return out
}

func (e *Emulator) keyState(key string) KeyState {
	e.keyMu.RLock()
	defer e.keyMu.RUnlock()
	if s := e.keyStates[key]; s != "" {
		return s
	}
	return KeyActive
}

// invalidKey is OpenAI's answer to a key it does not accept.
func invalidKey(key string) *apiError {
	return &apiError{status: http.StatusUnauthorized, typ: errTypeInvalidRequest, code: "invalid_api_key",
		message: fmt.Sprintf(
			"Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.",
			maskKey(key),
		)}
}

// missingScopes is OpenAI's answer to a restricted key used beyond its permissions.
func missingScopes(scope string) *apiError {
	return &apiError{status: http.StatusUnauthorized, typ: errTypeInvalidRequest,
		message: fmt.Sprintf(
			"You have insufficient permissions for this operation. Missing scopes: %s. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
			scope,
		)}
}

// writeScope names the permission a write operation needs, for missingScopes.
func writeScope(op string) string {
	switch op {
	case OpFilesCreate, OpFilesDelete:
		return "api.files.write"
	case OpBatchesCreate, OpBatchesCancel:
		return "api.batch.write"
	case OpResponsesCreate, OpResponsesCancel, OpResponsesDelete:
		return "api.responses.write"
	}
	return "api.model.request"
}

// sortedKeyStates is KeyStates as a list, for the control API.
func (e *Emulator) sortedKeyStates() []map[string]string {
	states := e.KeyStates()
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, map[string]string{"key": k, "state": string(states[k])})
	}
	return out
}
