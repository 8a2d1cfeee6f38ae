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
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"sync"
)

// DefaultProject is the project that Options.APIKeys belong to, and the project of the
// webhook endpoints that Options.WebhookURLs and AddWebhookURL configure.
const DefaultProject = "proj_emulator"

// projectIDPattern is what the emulator accepts as a project id (OpenAI's look like
// proj_ followed by letters and digits).
var projectIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Project describes one emulated OpenAI project.
type Project struct {
	// ID is the project id, such as "proj_emulator".
	ID string `json:"id"`
	// APIKeys counts the keys that act for the project (the keys themselves are secrets
	// and never shown).
	APIKeys int `json:"api_keys"`
	// WebhookEndpoints counts the project's webhook endpoints.
	WebhookEndpoints int `json:"webhook_endpoints"`
}

// projects maps API keys to the project they act for. As on OpenAI, a key belongs to
// exactly one project; the project's objects and webhook endpoints are what its keys
// see (the emulator scopes webhook endpoints and event deliveries by project; files,
// batches and responses stay visible to every key).
type projects struct {
	mu    sync.RWMutex
	byKey map[string]string   // API key -> project id
	keys  map[string][]string // project id -> its keys
}

func newProjects() *projects {
	return &projects{byKey: map[string]string{}, keys: map[string][]string{}}
}

// add creates project id if needed and gives it keys. A key of another project is refused.
func (p *projects) add(id string, keys ...string) error {
	if !projectIDPattern.MatchString(id) {
		return fmt.Errorf("project id %q must be 1 to 64 letters, digits, '_' or '-'", id)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		if k == "" {
			return errors.New("an API key must not be empty")
		}
		if owner, ok := p.byKey[k]; ok && owner != id {
			return fmt.Errorf("the API key %s already belongs to project %s", maskKey(k), owner)
		}
	}
	if _, ok := p.keys[id]; !ok {
		p.keys[id] = nil
	}
	for _, k := range keys {
		if _, ok := p.byKey[k]; !ok {
			p.byKey[k] = id
			p.keys[id] = append(p.keys[id], k)
		}
	}
	return nil
}

// projectOfKey returns the project an API key acts for.
func (p *projects) projectOfKey(key string) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	id, ok := p.byKey[key]
	return id, ok
}

// keys returns every API key, of every project.
func (p *projects) allKeys() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]string, 0, len(p.byKey))
	for k := range p.byKey {
		out = append(out, k)
	}
	return out
}

func (p *projects) list() []Project {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]Project, 0, len(p.keys))
	for id, keys := range p.keys {
		out = append(out, Project{ID: id, APIKeys: len(keys)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AddProject creates the project id, if it does not exist, and adds API keys that act
// for it. A key that already belongs to another project is refused.
func (e *Emulator) AddProject(id string, apiKeys ...string) error {
	return e.projects.add(id, apiKeys...)
}

// Projects lists the projects with how many API keys and webhook endpoints each has.
func (e *Emulator) Projects() []Project {
	out := e.projects.list()
	count := map[string]int{}
	for _, ep := range e.hooks.list() {
		count[ep.Project]++
	}
	for i := range out {
		out[i].WebhookEndpoints = count[out[i].ID]
	}
	return out
}

type projectContextKey struct{}

// withProject returns r carrying the project its API key acts for.
func withProject(r *http.Request, project string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), projectContextKey{}, project))
}

// projectOf returns the project of an authenticated request.
func projectOf(r *http.Request) string {
	if p, ok := r.Context().Value(projectContextKey{}).(string); ok {
		return p
	}
	return DefaultProject
}

// projectOfObject returns the project of the batch, response or fine-tuning job id (the
// project of the key that created it); DefaultProject when it is gone.
func (e *Emulator) projectOfObject(id string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if b := e.batches[id]; b != nil && b.project != "" {
		return b.project
	}
	if r := e.responses[id]; r != nil && r.project != "" {
		return r.project
	}
	if j := e.ftJobs[id]; j != nil && j.project != "" {
		return j.project
	}
	return DefaultProject
}
