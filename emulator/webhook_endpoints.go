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
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// WebhookEventTypes are the event types an endpoint can subscribe to and a test can
// send, as openai-go v3.98.0 lists them; GET /v1/webhook_event_types answers them. The
// emulator itself emits only the batch.* and response.* ones.
var WebhookEventTypes = []string{
	"batch.completed", "batch.failed", "batch.expired", "batch.cancelled",
	"response.completed", "response.failed", "response.cancelled", "response.incomplete",
	"eval.run.succeeded", "eval.run.failed", "eval.run.canceled",
	"fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled",
	"realtime.call.incoming", "video.completed", "video.failed",
	"agent.environment.ready", "agent.environment.failed", "agent.environment.suspended", "agent.environment.expired",
	"agent.session.created", "agent.session.action_required", "agent.session.in_progress", "agent.session.idle", "agent.session.failed",
	"safety.alert.created",
}

const (
	// maxEndpointName bounds an endpoint's name, in characters.
	maxEndpointName = 256
	// maxEndpointURL bounds an endpoint's URL, in bytes.
	maxEndpointURL = 2048
	// maxEndpointsPerProject bounds a project's endpoints.
	maxEndpointsPerProject = 1000
	defaultEndpointPage    = 20
	maxEndpointPage        = 100
)

// webhookEndpointJSON is OpenAI's webhook endpoint object; SigningSecret is set only
// in the answers of create and rotate_secret.
type webhookEndpointJSON struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Name              string   `json:"name"`
	URL               string   `json:"url"`
	EventTypes        []string `json:"event_types"`
	SigningSecret     string   `json:"signing_secret,omitempty"`
	SigningSecretHint string   `json:"signing_secret_hint"`
	CreatedAt         int64    `json:"created_at"`
	UpdatedAt         int64    `json:"updated_at"`
}

// secretHint masks a signing secret as a hint: the prefix, the first and the last four
// characters of its key.
func secretHint(s standardwebhooks.Secret) string {
	enc := s.Encode()
	key := enc[len(standardwebhooks.SecretPrefix):]
	return standardwebhooks.SecretPrefix + key[:4] + "..." + key[len(key)-4:]
}

// json renders the endpoint; withSecret adds its newest secret.
func (ep *endpoint) json(withSecret bool) webhookEndpointJSON {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	current := ep.secrets[len(ep.secrets)-1].secret
	types := ep.eventTypes
	if types == nil {
		types = WebhookEventTypes
	}
	out := webhookEndpointJSON{
		ID: ep.id, Object: "webhook_endpoint", Name: ep.name, URL: ep.url, EventTypes: slices.Clone(types),
		SigningSecretHint: secretHint(current), CreatedAt: ep.created.Unix(), UpdatedAt: ep.updated.Unix(),
	}
	if withSecret {
		out.SigningSecret = current.Encode()
	}
	return out
}

func newSigningSecret() standardwebhooks.Secret {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return standardwebhooks.NewSecret(key)
}

func noSuchEndpoint(id string) *apiError {
	return notFound("", "No webhook endpoint found with id '%s'.", id)
}

// endpointFields are the parsed fields of a create or update body; nil means absent.
type endpointFields struct {
	name, url  *string
	eventTypes []string
}

// parseEndpointFields reads name, url and event_types, checking what is present.
func parseEndpointFields(body map[string]json.RawMessage) (endpointFields, *apiError) {
	var f endpointFields
	if v, has, aerr := str(body, "name"); aerr != nil {
		return f, aerr
	} else if has {
		if utf8.RuneCountInString(v) > maxEndpointName {
			return f, invalid("name", "invalid_value", "Invalid 'name': string too long. Expected a string with maximum length %d.", maxEndpointName)
		}
		f.name = &v
	}
	if v, has, aerr := str(body, "url"); aerr != nil {
		return f, aerr
	} else if has {
		if len(v) > maxEndpointURL || validWebhookURL(v) != nil {
			return f, invalid("url", "invalid_url", "Invalid 'url': expected an absolute http or https URL of at most %d characters.", maxEndpointURL)
		}
		f.url = &v
	}
	if raw, has := body["event_types"]; has && !isNull(raw) {
		var types []string
		if err := json.Unmarshal(raw, &types); err != nil {
			return f, invalid("event_types", "invalid_type", "Invalid type for 'event_types': expected an array of strings.")
		}
		if len(types) == 0 {
			return f, invalid("event_types", "empty_array", "Invalid 'event_types': expected at least one event type.")
		}
		for i, t := range types {
			if !slices.Contains(WebhookEventTypes, t) {
				return f, invalid(fmt.Sprintf("event_types[%d]", i), "invalid_value",
					"Invalid 'event_types[%d]': unknown event type '%s'. See GET /v1/webhook_event_types.", i, t)
			}
			if !slices.Contains(f.eventTypes, t) {
				f.eventTypes = append(f.eventTypes, t)
			}
		}
	}
	return f, nil
}

// readObject reads a JSON object body; an empty body is an empty object.
func readObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, *apiError) {
	raw, aerr := readJSONBody(w, r)
	if aerr != nil {
		return nil, aerr
	}
	if len(raw) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	body, ok := rawObject(raw)
	if !ok {
		return nil, invalid("", "", "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.")
	}
	return body, nil
}

func (e *Emulator) createWebhookEndpoint(w http.ResponseWriter, r *http.Request, _ string) {
	body, aerr := readObject(w, r)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	f, aerr := parseEndpointFields(body)
	switch {
	case aerr != nil:
	case f.name == nil:
		aerr = missing("name")
	case f.url == nil:
		aerr = missing("url")
	case f.eventTypes == nil:
		aerr = missing("event_types")
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	project := projectOf(r)
	if len(e.hooks.ofProject(project)) >= maxEndpointsPerProject {
		writeAPIError(w, invalid("", "limit_reached", "A project can have at most %d webhook endpoints.", maxEndpointsPerProject))
		return
	}
	e.hooks.mu.Lock()
	ep, err := e.hooks.newEndpointLocked(project, *f.name, *f.url, f.eventTypes, newSigningSecret(), false)
	e.hooks.mu.Unlock()
	if err != nil {
		writeAPIError(w, serverError())
		return
	}
	e.log.Info("Created webhook endpoint", "project", project, "endpointID", ep.id, "endpoint", redactURL(*f.url))
	writeJSON(w, http.StatusOK, ep.json(true))
}

func (e *Emulator) getWebhookEndpoint(w http.ResponseWriter, r *http.Request, id string) {
	ep := e.hooks.get(projectOf(r), id)
	if ep == nil {
		writeAPIError(w, noSuchEndpoint(id))
		return
	}
	writeJSON(w, http.StatusOK, ep.json(false))
}

func (e *Emulator) updateWebhookEndpoint(w http.ResponseWriter, r *http.Request, id string) {
	ep := e.hooks.get(projectOf(r), id)
	if ep == nil {
		writeAPIError(w, noSuchEndpoint(id))
		return
	}
	body, aerr := readObject(w, r)
	if aerr == nil {
		var f endpointFields
		if f, aerr = parseEndpointFields(body); aerr == nil {
			ep.mu.Lock()
			changed := false
			if f.name != nil && *f.name != ep.name {
				ep.name, changed = *f.name, true
			}
			if f.url != nil && *f.url != ep.url {
				ep.url, changed = *f.url, true
			}
			if f.eventTypes != nil && !slices.Equal(f.eventTypes, ep.eventTypes) {
				ep.eventTypes, changed = f.eventTypes, true
			}
			if changed {
				ep.updated = e.now()
			}
			ep.mu.Unlock()
		}
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, ep.json(false))
}

func (e *Emulator) listWebhookEndpoints(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	limit, aerr := parseLimit(q.Get("limit"), defaultEndpointPage, maxEndpointPage)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	eps := e.hooks.ofProject(projectOf(r)) // newest first
	if after := q.Get("after"); after != "" {
		if i := slices.IndexFunc(eps, func(ep *endpoint) bool { return ep.id == after }); i >= 0 {
			eps = eps[i+1:]
		} else {
			eps = nil // an unknown cursor ends the list, as for batches
		}
	}
	page := listPage[webhookEndpointJSON]{Object: objectList, Data: []webhookEndpointJSON{}}
	for _, ep := range eps {
		if len(page.Data) == limit {
			page.HasMore = true
			break
		}
		page.Data = append(page.Data, ep.json(false))
	}
	setPageIDs(&page, func(ep webhookEndpointJSON) string { return ep.ID })
	writeJSON(w, http.StatusOK, page)
}

func (e *Emulator) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request, id string) {
	if !e.hooks.remove(projectOf(r), id) {
		writeAPIError(w, noSuchEndpoint(id))
		return
	}
	e.log.Info("Deleted webhook endpoint", "project", projectOf(r), "endpointID", id)
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "webhook_endpoint.deleted", fieldDeleted: true})
}

func (e *Emulator) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, id string) {
	ep := e.hooks.get(projectOf(r), id)
	if ep == nil {
		writeAPIError(w, noSuchEndpoint(id))
		return
	}
	body, aerr := readObject(w, r)
	var keep bool
	if aerr == nil {
		keep, aerr = boolField(body, "keep_old_secret_active_for_24_hours", false)
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	ep.rotate(newSigningSecret(), keep, e.now(), e.overlap)
	e.log.Info("Rotated webhook signing secret", "project", projectOf(r), "endpointID", id, "keepOld", keep)
	writeJSON(w, http.StatusOK, ep.json(true))
}

func (e *Emulator) testWebhookEndpoint(w http.ResponseWriter, r *http.Request, id string) {
	ep := e.hooks.get(projectOf(r), id)
	if ep == nil {
		writeAPIError(w, noSuchEndpoint(id))
		return
	}
	body, aerr := readObject(w, r)
	var typ string
	if aerr == nil {
		var has bool
		typ, has, aerr = str(body, "event_type")
		switch {
		case aerr != nil:
		case !has:
			aerr = missing("event_type")
		case !slices.Contains(WebhookEventTypes, typ):
			aerr = invalid("event_type", "invalid_value", "Invalid 'event_type': unknown event type '%s'. See GET /v1/webhook_event_types.", typ)
		}
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	status := ep.test(typ)
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "webhook_endpoint.test", "webhook_endpoint_id": ep.id, "event_type": typ, "status_code": status, "success": true,
	})
}

func (e *Emulator) listWebhookEventTypes(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, map[string]any{"object": objectList, "data": WebhookEventTypes})
}

// webhookEndpointRoutes maps the paths under /v1/webhook_endpoints (rest) to operations.
func (e *Emulator) webhookEndpointRoutes(rest []string) map[string]struct {
	op string
	h  apiHandler
} {
	type m = map[string]struct {
		op string
		h  apiHandler
	}
	switch {
	case len(rest) == 0:
		return m{
			http.MethodGet:  {OpWebhookEndpointsList, e.listWebhookEndpoints},
			http.MethodPost: {OpWebhookEndpointsCreate, e.createWebhookEndpoint},
		}
	case len(rest) == 1:
		return m{
			http.MethodGet:    {OpWebhookEndpointsRetrieve, e.getWebhookEndpoint},
			http.MethodPost:   {OpWebhookEndpointsUpdate, e.updateWebhookEndpoint},
			http.MethodDelete: {OpWebhookEndpointsDelete, e.deleteWebhookEndpoint},
		}
	case len(rest) == 2 && rest[1] == "rotate_secret":
		return m{http.MethodPost: {OpWebhookEndpointsRotateSecret, e.rotateWebhookSecret}}
	case len(rest) == 2 && rest[1] == "test":
		return m{http.MethodPost: {OpWebhookEndpointsTest, e.testWebhookEndpoint}}
	}
	return nil
}

// The JSON words the webhook endpoint answers share with the other resources'.
const (
	objectList       = "list"
	fieldDeleted     = "deleted"
	webhookEndpoints = "webhook_endpoints" // the path segment
)
