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
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// File limits, as OpenAI's.
const (
	maxFileBytes      = 512 << 20 // any file
	maxBatchFileBytes = 200 << 20 // purpose batch
	minFileExpiry     = 3600      // seconds, expires_after
	maxFileExpiry     = 2592000   // seconds (30 days), expires_after; also the batch default
	defaultFileLimit  = 10000
)

var uploadPurposes = map[string]bool{
	"assistants": true, "batch": true, "fine-tune": true, "vision": true, "user_data": true, "evals": true,
}

type file struct {
	id        string
	filename  string
	purpose   string
	content   []byte
	created   time.Time
	expiresAt time.Time // zero: never
	deleted   bool
}

type fileJSON struct {
	ID            string  `json:"id"`
	Object        string  `json:"object"`
	Bytes         int64   `json:"bytes"`
	CreatedAt     int64   `json:"created_at"`
	ExpiresAt     *int64  `json:"expires_at"`
	Filename      string  `json:"filename"`
	Purpose       string  `json:"purpose"`
	Status        string  `json:"status"`
	StatusDetails *string `json:"status_details"`
}

func (f *file) json() fileJSON {
	return fileJSON{
		ID: f.id, Object: "file", Bytes: int64(len(f.content)), CreatedAt: f.created.Unix(),
		ExpiresAt: optUnix(f.expiresAt), Filename: f.filename, Purpose: f.purpose, Status: "processed",
	}
}

// optUnix returns t in unix seconds, or nil (JSON null) for the zero time.
func optUnix(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

// addFileLocked stores a new file. e.mu must be held.
func (e *Emulator) addFileLocked(name, purpose string, content []byte, created, expires time.Time) *file {
	f := &file{id: e.ids.file(), filename: name, purpose: purpose, content: content, created: created, expiresAt: expires}
	e.files[f.id] = f
	e.fileOrder = append(e.fileOrder, f)
	return f
}

// fileLocked returns a live file, forgetting it if it has expired. e.mu must be held.
func (e *Emulator) fileLocked(id string, now time.Time) *file {
	f := e.files[id]
	if f == nil {
		return nil
	}
	if !f.expiresAt.IsZero() && !now.Before(f.expiresAt) {
		e.dropFileLocked(f)
		return nil
	}
	return f
}

func (e *Emulator) dropFileLocked(f *file) {
	delete(e.files, f.id)
	f.deleted = true
	f.content = nil
	// Compact the creation-ordered list once most of it is tombstones.
	if n := len(e.fileOrder); n > 64 && len(e.files) < n/2 {
		live := e.fileOrder[:0]
		for _, g := range e.fileOrder {
			if !g.deleted {
				live = append(live, g)
			}
		}
		clear(e.fileOrder[len(live):])
		e.fileOrder = live
	}
}

func noSuchFile(id string) *apiError {
	return notFound("id", "No such File object: %s", id)
}

func (e *Emulator) createFile(w http.ResponseWriter, r *http.Request, _ string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFileBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		writeAPIError(w, invalid("", "", "Expected a multipart/form-data request body."))
		return
	}
	var (
		purpose, filename, anchor, seconds string
		content                            []byte
		haveFile                           bool
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeAPIError(w, uploadReadError(err))
			return
		}
		switch part.FormName() {
		case "purpose":
			purpose, err = readField(part)
		case "expires_after[anchor]":
			anchor, err = readField(part)
		case "expires_after[seconds]":
			seconds, err = readField(part)
		case "file":
			haveFile = true
			filename = part.FileName()
			content, err = io.ReadAll(io.LimitReader(part, maxFileBytes+1))
			if err == nil && len(content) > maxFileBytes {
				err = errTooLarge
			}
		}
		_ = part.Close()
		if err != nil {
			writeAPIError(w, uploadReadError(err))
			return
		}
	}

	if purpose == "" {
		writeAPIError(w, missing("purpose"))
		return
	}
	if !uploadPurposes[purpose] {
		writeAPIError(
			w,
			invalid(
				"purpose",
				"invalid_value",
				"Invalid value for 'purpose': '%s'. Supported values are: 'assistants', 'batch', 'fine-tune', 'vision', 'user_data' and 'evals'.",
				purpose,
			),
		)
		return
	}
	if !haveFile {
		writeAPIError(w, missing("file"))
		return
	}
	if filename == "" {
		filename = "upload"
	}
	if purpose == "batch" {
		if !strings.HasSuffix(strings.ToLower(filename), ".jsonl") {
			writeAPIError(w, invalid("", "", "Invalid file format for Batch API. Must be .jsonl"))
			return
		}
		if len(content) > maxBatchFileBytes {
			writeAPIError(w, invalid("file", "file_too_large", "File is too large for purpose 'batch': at most 200 MB."))
			return
		}
	}

	now := e.now()
	var expires time.Time
	if purpose == "batch" {
		expires = now.Add(e.scaled(maxFileExpiry * time.Second))
	}
	if anchor != "" || seconds != "" {
		if anchor != "created_at" {
			writeAPIError(
				w,
				invalid(
					"expires_after.anchor",
					"invalid_value",
					"Invalid value for 'expires_after.anchor': '%s'. Supported values are: 'created_at'.",
					anchor,
				),
			)
			return
		}
		secs, err := strconv.ParseInt(seconds, 10, 64)
		if err != nil || secs < minFileExpiry || secs > maxFileExpiry {
			writeAPIError(
				w,
				invalid(
					"expires_after.seconds",
					"invalid_value",
					"Invalid 'expires_after.seconds': expected an integer between %d and %d.",
					minFileExpiry,
					maxFileExpiry,
				),
			)
			return
		}
		expires = now.Add(e.scaled(time.Duration(secs) * time.Second))
	}

	e.mu.Lock()
	f := e.addFileLocked(filename, purpose, content, now, expires)
	out := f.json()
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

var errTooLarge = errors.New("request body too large")

func uploadReadError(err error) *apiError {
	var mbe *http.MaxBytesError
	if errors.Is(err, errTooLarge) || errors.As(err, &mbe) {
		return &apiError{status: http.StatusRequestEntityTooLarge, typ: errTypeInvalidRequest, param: "file",
			message: "File is too large: at most 512 MB."}
	}
	return invalid("", "", "Could not parse multipart form: %v", err)
}

func readField(p *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, 4096))
	return strings.TrimSpace(string(b)), err
}

func (e *Emulator) getFile(w http.ResponseWriter, _ *http.Request, id string) {
	e.mu.Lock()
	f := e.fileLocked(id, e.now())
	var out fileJSON
	if f != nil {
		out = f.json()
	}
	e.mu.Unlock()
	if f == nil {
		writeAPIError(w, noSuchFile(id))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) fileContent(w http.ResponseWriter, _ *http.Request, id string) {
	e.mu.Lock()
	f := e.fileLocked(id, e.now())
	var content []byte
	if f != nil {
		content = f.content // never mutated once stored
	}
	e.mu.Unlock()
	if f == nil {
		writeAPIError(w, noSuchFile(id))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(content)
}

func (e *Emulator) deleteFile(w http.ResponseWriter, _ *http.Request, id string) {
	e.mu.Lock()
	f := e.fileLocked(id, e.now())
	if f != nil {
		e.dropFileLocked(f)
	}
	e.mu.Unlock()
	if f == nil {
		writeAPIError(w, noSuchFile(id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "file", "deleted": true})
}

// listPage is OpenAI's cursor page.
type listPage[T any] struct {
	Object  string  `json:"object"`
	Data    []T     `json:"data"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

func parseLimit(q string, def, maxLimit int) (int, *apiError) {
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > maxLimit {
		return 0, invalid("limit", "invalid_value", "Invalid 'limit': expected an integer between 1 and %d.", maxLimit)
	}
	return n, nil
}

func (e *Emulator) listFiles(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	limit, aerr := parseLimit(q.Get("limit"), defaultFileLimit, defaultFileLimit)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	order := q.Get("order")
	if order == "" {
		order = "desc"
	}
	if order != "asc" && order != "desc" {
		writeAPIError(w, invalid("order", "invalid_value", "Invalid value for 'order': '%s'. Supported values are: 'asc' and 'desc'.", order))
		return
	}
	purpose, after := q.Get("purpose"), q.Get("after")

	page := listPage[fileJSON]{Object: "list", Data: []fileJSON{}}
	now := e.now()
	e.mu.Lock()
	n := len(e.fileOrder)
	idx := func(i int) *file {
		if order == "desc" {
			return e.fileOrder[n-1-i]
		}
		return e.fileOrder[i]
	}
	started := after == ""
	for i := 0; i < n; i++ {
		f := idx(i)
		if !started {
			started = f.id == after
			continue
		}
		if f.deleted || (!f.expiresAt.IsZero() && !now.Before(f.expiresAt)) || (purpose != "" && f.purpose != purpose) {
			continue
		}
		if len(page.Data) == limit {
			page.HasMore = true
			break
		}
		page.Data = append(page.Data, f.json())
	}
	e.mu.Unlock()
	setPageIDs(&page, func(f fileJSON) string { return f.ID })
	writeJSON(w, http.StatusOK, page)
}

func setPageIDs[T any](p *listPage[T], id func(T) string) {
	if len(p.Data) > 0 {
		first, last := id(p.Data[0]), id(p.Data[len(p.Data)-1])
		p.FirstID, p.LastID = &first, &last
	}
}
