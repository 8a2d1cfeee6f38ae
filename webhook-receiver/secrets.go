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
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/openai-operator/openai-operator/internal/standardwebhooks"
)

// maxSecretFileBytes bounds what is read from one secrets file; a file of signing
// secrets is a few hundred bytes.
const maxSecretFileBytes = 64 << 10

// SecretSource provides the current webhook signing secrets.
type SecretSource interface {
	// Secrets returns the secrets to verify with. The caller must not modify the slice.
	Secrets() []standardwebhooks.Secret
}

// StaticSecrets is a fixed set of signing secrets.
type StaticSecrets []standardwebhooks.Secret

// Secrets returns the secrets.
func (s StaticSecrets) Secrets() []standardwebhooks.Secret { return s }

// SecretFiles loads signing secrets from a file or a directory and reloads them when
// they change, so that rotating a mounted Secret needs no restart.
//
// A file holds one or more "whsec_" secrets separated by whitespace. A directory (a
// mounted Kubernetes Secret) contributes each regular file whose name does not start
// with a dot; the symlinked "..data" directories that Kubernetes uses for atomic updates
// are skipped. An entry that does not parse is reported by file name, never by value,
// and the others are used.
//
// A read that fails (an I/O error, not a missing path) changes nothing: a file that
// cannot be read keeps the secrets of its last good read, and a directory that cannot
// be listed keeps them all. A read that succeeds and finds no valid secret fails closed.
type SecretFiles struct {
	path     string
	interval time.Duration
	log      logr.Logger
	onLoad   func(n int)
	fsys     fileSystem

	current  atomic.Pointer[[]standardwebhooks.Secret]
	mu       sync.Mutex // serialises reloads
	sum      [sha256.Size]byte
	loaded   bool
	lastGood map[string][]byte // by file name: the content of its last good read
}

// NewSecretFiles returns a source that reads path now and every interval once started.
// onLoad, if not nil, is called with the number of secrets after every change.
func NewSecretFiles(path string, interval time.Duration, log logr.Logger, onLoad func(n int)) *SecretFiles {
	return newSecretFiles(path, interval, log, onLoad, osFS{})
}

func newSecretFiles(path string, interval time.Duration, log logr.Logger, onLoad func(n int), fsys fileSystem) *SecretFiles {
	s := &SecretFiles{path: path, interval: interval, log: log, onLoad: onLoad, fsys: fsys}
	s.current.Store(&[]standardwebhooks.Secret{})
	s.Reload()
	return s
}

// Secrets returns the secrets last loaded.
func (s *SecretFiles) Secrets() []standardwebhooks.Secret { return *s.current.Load() }

// Start re-reads the secrets every interval until ctx ends.
func (s *SecretFiles) Start(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.Reload()
		}
	}
}

// NeedLeaderElection reports false: every replica needs the secrets.
func (s *SecretFiles) NeedLeaderElection() bool { return false }

// Reload reads the secrets again and swaps them in if the files changed. It returns
// the number of secrets in use.
func (s *SecretFiles) Reload() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	files, fileErrs, err := readSecretFiles(s.fsys, s.path)
	if err != nil {
		// The path could not be read at all: keep everything as it is.
		if !s.loaded || s.sum != errorSum(err) {
			s.log.Error(err, "Reading webhook signing secrets failed; keeping the last good set", "path", s.path, "count", len(s.Secrets()))
		}
		s.sum, s.loaded = errorSum(err), true
		return len(s.Secrets())
	}
	good := map[string][]byte{}
	for _, f := range files {
		good[f.name] = f.content
	}
	for _, fe := range fileErrs {
		// A file that could not be read keeps its last good content; one too large to
		// hold secrets is content, not a failed read, and is dropped.
		if last, ok := s.lastGood[fe.name]; ok && !errors.Is(fe.err, errTooLarge) {
			files = append(files, secretFile{name: fe.name, content: last})
			good[fe.name] = last
		}
	}
	slices.SortFunc(files, func(a, b secretFile) int { return strings.Compare(a.name, b.name) })
	sum := fingerprint(files, fileErrs)
	if s.loaded && sum == s.sum {
		return len(s.Secrets())
	}
	s.sum, s.loaded, s.lastGood = sum, true, good
	for _, fe := range fileErrs {
		_, kept := good[fe.name]
		s.log.Error(fe.err, "Reading a webhook signing secret file failed", "path", s.path, "file", fe.name, "keptLastGood", kept)
	}

	var secrets []standardwebhooks.Secret
	for _, f := range files {
		for i, field := range strings.Fields(string(f.content)) {
			sec, perr := standardwebhooks.ParseSecret(field)
			if perr != nil {
				s.log.Error(perr, "Ignoring a webhook signing secret that does not parse", "file", f.name, "entry", i+1)
				continue
			}
			if !slices.ContainsFunc(secrets, sec.Equal) {
				secrets = append(secrets, sec)
			}
		}
	}
	s.current.Store(&secrets)
	s.log.Info("Loaded webhook signing secrets", "source", "files", "path", s.path, "count", len(secrets))
	if s.onLoad != nil {
		s.onLoad(len(secrets))
	}
	return len(secrets)
}

// fileSystem is what SecretFiles reads through.
type fileSystem interface {
	Stat(path string) (os.FileInfo, error)
	ReadDir(path string) ([]os.DirEntry, error)
	ReadFile(path string) ([]byte, error)
}

// osFS is the machine's file system, files read up to maxSecretFileBytes.
type osFS struct{}

func (osFS) Stat(path string) (os.FileInfo, error)      { return os.Stat(path) }
func (osFS) ReadDir(path string) ([]os.DirEntry, error) { return os.ReadDir(path) }
func (osFS) ReadFile(path string) ([]byte, error)       { return readBounded(path) }

type secretFile struct {
	name    string
	content []byte
}

// fileError is a file of a directory that could not be read.
type fileError struct {
	name string
	err  error
}

// errTooLarge marks a file too large to hold signing secrets: its content is not
// secrets, so it is dropped like one that does not parse, not kept as a failed read.
var errTooLarge = errors.New("larger than a file of webhook signing secrets")

// readSecretFiles reads path, a file or a directory of files, in name order. A path
// that does not exist reads as no file. err is set when path itself cannot be read;
// fileErrs lists the files of a directory that could not be.
func readSecretFiles(fsys fileSystem, path string) (files []secretFile, fileErrs []fileError, err error) {
	info, err := fsys.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if !info.IsDir() {
		content, err := fsys.ReadFile(path)
		switch {
		case errors.Is(err, errTooLarge):
			return nil, nil, nil
		case err != nil:
			return nil, nil, err
		}
		return []secretFile{{name: filepath.Base(path), content: content}}, nil, nil
	}
	entries, err := fsys.ReadDir(path) // sorted by name
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // hidden files and Kubernetes' ..data and ..<timestamp> entries
		}
		full := filepath.Join(path, e.Name())
		fi, err := fsys.Stat(full) // follows the symlinks of a mounted Secret
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed meanwhile
		case err != nil:
			fileErrs = append(fileErrs, fileError{e.Name(), err})
			continue
		case !fi.Mode().IsRegular():
			continue
		}
		content, err := fsys.ReadFile(full)
		switch {
		case errors.Is(err, errTooLarge):
			fileErrs = append(fileErrs, fileError{e.Name(), err})
			continue
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			fileErrs = append(fileErrs, fileError{e.Name(), err})
			continue
		}
		files = append(files, secretFile{name: e.Name(), content: content})
	}
	return files, fileErrs, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	content, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(content) > maxSecretFileBytes {
		return nil, fmt.Errorf("%s: %w (%d bytes at most)", filepath.Base(path), errTooLarge, maxSecretFileBytes)
	}
	return content, nil
}

// fingerprint identifies a read, so that an unchanged set is neither re-parsed nor logged.
func fingerprint(files []secretFile, fileErrs []fileError) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		_, _ = fmt.Fprintf(h, "%d:%s\x00%d:", len(f.name), f.name, len(f.content))
		h.Write(f.content)
	}
	for _, fe := range fileErrs {
		_, _ = fmt.Fprintf(h, "error:%s:%s\x00", fe.name, errorClass(fe.err))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// errorSum is the fingerprint of a read of the path that failed.
func errorSum(err error) [sha256.Size]byte {
	return sha256.Sum256([]byte("path-error:" + errorClass(err)))
}

// errorClass keeps the fingerprint of a failing read stable across polls.
func errorClass(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "not-exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission"
	case errors.Is(err, errTooLarge):
		return "too-large"
	default:
		return err.Error()
	}
}
