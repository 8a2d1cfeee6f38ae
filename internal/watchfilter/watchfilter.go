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

// Package watchfilter removes metadata.managedFields from the JSON watch streams an API
// server sends, before client-go decodes them.
//
// A cache that drops managedFields with a transform (controller-runtime's
// TransformStripManagedFields) still pays to decode them: client-go scans every watch
// event five times (the frame, the event's kind, the event, the object's kind, the
// object) and builds each managedFields entry before the transform throws it away. For a
// small custom resource they are about half of its bytes, and decoding is most of what a
// manager does while its cache fills: removing them from the bytes halves the decoding
// (BenchmarkWatchDecode). The cache ends up with the same objects.
//
// Only what is certainly a JSON watch event is changed: a 200 response to a GET with
// watch=true, of media type application/json and no content encoding left, one event per
// line (as the API server writes them). An event is changed only where it has an
// object.metadata.managedFields member; any other event, and any frame the scanner does
// not understand, passes through byte for byte. Lists pass through.
package watchfilter

import (
	"bufio"
	"errors"
	"io"
	"mime"
	"net/http"

	"k8s.io/client-go/rest"
)

// HTTPClientFor returns an HTTP client for cfg, as rest.HTTPClientFor does, whose JSON
// watch streams arrive without metadata.managedFields: the client for a cache
// (controller-runtime's cache.Options.HTTPClient) that drops them anyway.
func HTTPClientFor(cfg *rest.Config) (*http.Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	hc.Transport = DropManagedFields(hc.Transport)
	return hc, nil
}

// DropManagedFields wraps next so that the JSON watch streams it returns arrive without
// metadata.managedFields. Use it only for a client whose readers never read
// managedFields, such as the HTTP client of a cache that strips them anyway.
func DropManagedFields(next http.RoundTripper) http.RoundTripper {
	return roundTripper{next: next}
}

type roundTripper struct{ next http.RoundTripper }

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || !isJSONWatch(req, resp) {
		return resp, err
	}
	resp.Body = &reader{body: resp.Body, in: bufio.NewReaderSize(resp.Body, 32<<10)}
	return resp, nil
}

// WrappedRoundTripper lets client-go find the transport below (for its connection
// clean-up and debugging wrappers).
func (t roundTripper) WrappedRoundTripper() http.RoundTripper { return t.next }

func isJSONWatch(req *http.Request, resp *http.Response) bool {
	if req.Method != http.MethodGet || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" {
		return false
	}
	if w := req.URL.Query().Get("watch"); w != "true" && w != "1" {
		return false
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// reader serves a watch stream one filtered line at a time.
type reader struct {
	body io.ReadCloser
	in   *bufio.Reader
	line []byte // the line being assembled, reused
	out  []byte // what is left to serve of the current line
	err  error  // the error that ended the stream, after out is served
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.next()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// next reads the next line (up to and including its newline) and sets out to it,
// filtered. A last line without a newline passes through unfiltered.
func (r *reader) next() {
	r.line = r.line[:0]
	for {
		chunk, err := r.in.ReadSlice('\n')
		r.line = append(r.line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			r.out, r.err = r.line, err
			return
		}
		r.out = Strip(r.line)
		return
	}
}

func (r *reader) Close() error { return r.body.Close() }

// path is where managedFields sit in a watch event.
var path = [...]string{"object", "metadata", "managedFields"}

// Strip returns event, one JSON watch event, without its object.metadata.managedFields
// member (and the comma that separated it), in place. An event without that member, or
// one it cannot read, is returned unchanged.
func Strip(event []byte) []byte {
	s := scanner{b: event}
	from, to, ok := s.find(path[:])
	if !ok {
		return event
	}
	return append(event[:from], event[to:]...)
}

// scanner finds a member by its path in JSON text. It reads just enough to skip values
// and does not validate them: the caller's decoder does.
type scanner struct {
	b []byte
	i int
}

// find scans the object at the current position for the member named path[0], then
// into its value for path[1:], and returns the byte range of the last one's member, with
// one adjacent comma, so that cutting it leaves valid JSON.
func (s *scanner) find(path []string) (from, to int, ok bool) {
	s.space()
	if !s.consume('{') {
		return 0, 0, false
	}
	prevComma := -1 // the comma before the current member, if any
	for {
		s.space()
		keyStart := s.i
		key, ok := s.key()
		if !ok {
			return 0, 0, false
		}
		s.space()
		if !s.consume(':') {
			return 0, 0, false
		}
		s.space()
		if string(key) == path[0] {
			if len(path) > 1 {
				return s.find(path[1:])
			}
			if !s.skip() {
				return 0, 0, false
			}
			end := s.i
			s.space()
			if s.consume(',') {
				return keyStart, s.i, true // the member and the comma after it
			}
			if prevComma >= 0 {
				return prevComma, end, true // the last member: the comma before it
			}
			return keyStart, end, true // the only member
		}
		if !s.skip() {
			return 0, 0, false
		}
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			prevComma = s.i
			s.i++
			continue
		}
		return 0, 0, false // the object ended (or broke) without the member
	}
}

// key reads a member name. Names with escapes are not compared (none of the path has
// any): such a member is read as a name that matches nothing.
func (s *scanner) key() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	escaped := false
	for ; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			escaped = true
			s.i++
		case '"':
			name := s.b[start:s.i]
			s.i++
			if escaped {
				return nil, true
			}
			return name, true
		}
	}
	return nil, false
}

// skip moves past one value: a string, an object or array (counting brackets outside
// strings), or a literal.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		return s.skipString()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if !s.skipString() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	default:
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return true
			}
			s.i++
		}
		return false
	}
}

func (s *scanner) skipString() bool {
	s.i++ // the opening quote
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
			continue
		case '"':
			s.i++
			return true
		}
		s.i++
	}
	return false
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}
