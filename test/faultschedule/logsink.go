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

package faultschedule

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// logBook keeps the last lines logged by one seed's managers, for the failure report,
// and lets the fault transport learn which resource an OpenAI call is about.
//
// controller-runtime gives every reconcile a logger carrying the resource's "name" (and
// kind) and puts it in the reconcile's context, which the OpenAI SDK passes on to the
// HTTP request. A logger built on this sink can be recognised in that context and asked
// for its values, so each call is attributed to the resource whose reconcile made it,
// lists and searches included, without parsing anything.
//
// It also watches for secrets (I8): once told a signing secret OpenAI returned, a line
// that holds it (whole, or its key without the prefix) is recorded as a leak, and kept
// with the secret masked.
type logBook struct {
	start time.Time
	mu    sync.Mutex
	// lines is a ring of at most max lines; next is where the next one goes once full.
	lines []string
	next  int
	max   int
	// secrets are the values watched for; leaks the lines that held one.
	secrets []string
	leaks   []string
}

func newLogBook(max int) *logBook { return &logBook{start: time.Now(), max: max} }

func (b *logBook) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sec := range b.secrets {
		if strings.Contains(line, sec) {
			line = strings.ReplaceAll(line, sec, "<secret>")
			if len(b.leaks) < 10 {
				b.leaks = append(b.leaks, line)
			}
		}
	}
	line = fmt.Sprintf("%7.3fs %s", time.Since(b.start).Seconds(), line)
	if len(b.lines) < b.max {
		b.lines = append(b.lines, line)
		return
	}
	b.lines[b.next] = line
	b.next = (b.next + 1) % b.max
}

// ordered returns the kept lines, oldest first. The caller holds mu.
func (b *logBook) ordered() []string {
	return append(slices.Clone(b.lines[b.next:]), b.lines[:b.next]...)
}

// watchFor adds a signing secret ("whsec_<key>") to the values a line must never hold:
// the secret and its key alone.
func (b *logBook) watchFor(secret string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := strings.TrimPrefix(secret, "whsec_")
	if !slices.Contains(b.secrets, secret) {
		b.secrets = append(b.secrets, secret)
	}
	if len(key) >= 16 && !slices.Contains(b.secrets, key) {
		b.secrets = append(b.secrets, key)
	}
}

// watched returns the values watched for, and the lines that held one.
func (b *logBook) watched() (secrets, leaks []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.secrets), slices.Clone(b.leaks)
}

// tail returns the last n lines.
func (b *logBook) tail(n int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := b.ordered()
	return all[max(0, len(all)-n):]
}

// about returns, oldest first, the last limit lines that are among the last n or name
// one of resources (as a whole word): what a failure report needs to follow the
// resources an invariant failed for from their creation, which the last lines alone
// seldom reach back to.
func (b *logBook) about(resources []string, n, limit int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := b.ordered()
	var out []string
	for i, l := range all {
		if i >= len(all)-n || slices.ContainsFunc(resources, func(r string) bool { return mentions(l, r) }) {
			out = append(out, l)
		}
	}
	return out[max(0, len(out)-limit):]
}

// mentions reports whether line holds word, not as part of a longer name.
func mentions(line, word string) bool {
	isName := func(c byte) bool {
		return c == '-' || c == '_' || c == '.' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
	}
	for i := 0; word != ""; {
		j := strings.Index(line[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		if (start == 0 || !isName(line[start-1])) && (end == len(line) || !isName(line[end])) {
			return true
		}
		i = start + 1
	}
	return false
}

// logger returns a logger writing into the book, prefixed with prefix (the process).
func (b *logBook) logger(prefix string) logr.Logger {
	return logr.New(&bookSink{book: b, prefix: prefix})
}

// bookSink is a logr.LogSink that keeps its key/value pairs readable.
type bookSink struct {
	book   *logBook
	prefix string
	name   string
	values []any
}

func (s *bookSink) Init(logr.RuntimeInfo) {}

// Enabled keeps the reconcilers' info lines (V(0)) and drops their debug lines.
func (s *bookSink) Enabled(level int) bool { return level == 0 }

func (s *bookSink) Info(_ int, msg string, kv ...any) { s.write("", msg, kv) }

func (s *bookSink) Error(err error, msg string, kv ...any) {
	s.write("ERROR ", msg, append(kv, "error", err))
}

func (s *bookSink) write(level, msg string, kv []any) {
	var b strings.Builder
	b.WriteString(s.prefix)
	b.WriteString(" ")
	b.WriteString(level)
	if s.name != "" {
		b.WriteString(s.name + ": ")
	}
	b.WriteString(msg)
	all := append(append([]any(nil), s.values...), kv...)
	for i := 0; i+1 < len(all); i += 2 {
		k := fmt.Sprint(all[i])
		switch k {
		case "controller", "controllerGroup", "controllerKind", "namespace", "reconcileID", "OpenAIBatch", "OpenAIResponse", "OpenAIFineTuningJob",
			"OpenAIWebhookEndpoint":
			continue // the resource's name is enough in a one-namespace run
		}
		fmt.Fprintf(&b, " %s=%v", k, all[i+1])
	}
	s.book.add(b.String())
}

func (s *bookSink) WithValues(kv ...any) logr.LogSink {
	c := *s
	c.values = append(append([]any(nil), s.values...), kv...)
	return &c
}

func (s *bookSink) WithName(name string) logr.LogSink {
	c := *s
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

// value returns the last value logged under key.
func (s *bookSink) value(key string) string {
	for i := len(s.values) - 2; i >= 0; i -= 2 {
		if fmt.Sprint(s.values[i]) == key {
			return fmt.Sprint(s.values[i+1])
		}
	}
	return ""
}

// reconciledResource returns the name of the resource whose reconcile ctx belongs to,
// or "" when ctx carries no logger of a logBook.
func reconciledResource(ctx context.Context) string {
	l, err := logr.FromContext(ctx)
	if err != nil {
		return ""
	}
	if s, ok := l.GetSink().(*bookSink); ok {
		return s.value("name")
	}
	return ""
}
