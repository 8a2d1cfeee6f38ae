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
type SecretFiles struct {
	path     string
	interval time.Duration
	log      logr.Logger
	onLoad   func(n int)

	current atomic.Pointer[[]standardwebhooks.Secret]
	mu      sync.Mutex // serialises reloads
	sum     [sha256.Size]byte
	loaded  bool
}

// NewSecretFiles returns a source that reads path now and every interval once started.
// onLoad, if not nil, is called with the number of secrets after every change.
func NewSecretFiles(path string, interval time.Duration, log logr.Logger, onLoad func(n int)) *SecretFiles {
	s := &SecretFiles{path: path, interval: interval, log: log, onLoad: onLoad}
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
	files, err := readSecretFiles(s.path)
	if err != nil {
		files = nil
	}
	sum := fingerprint(files, err)
	if s.loaded && sum == s.sum {
		return len(s.Secrets())
	}
	s.sum, s.loaded = sum, true

	var secrets []standardwebhooks.Secret
	if err != nil {
		s.log.Error(err, "Reading webhook signing secrets", "path", s.path)
	}
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
	if len(secrets) == 0 {
		s.log.Info("No webhook signing secret is configured: answering 503 until one is", "path", s.path)
	} else {
		s.log.Info("Loaded webhook signing secrets", "path", s.path, "count", len(secrets))
	}
	if s.onLoad != nil {
		s.onLoad(len(secrets))
	}
	return len(secrets)
}

type secretFile struct {
	name    string
	content []byte
}

// readSecretFiles reads path, a file or a directory of files, in name order.
func readSecretFiles(path string) ([]secretFile, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		content, err := readBounded(path)
		if err != nil {
			return nil, err
		}
		return []secretFile{{name: filepath.Base(path), content: content}}, nil
	}
	entries, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return nil, err
	}
	var files []secretFile
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // hidden files and Kubernetes' ..data and ..<timestamp> entries
		}
		full := filepath.Join(path, e.Name())
		fi, err := os.Stat(full) // follows the symlinks of a mounted Secret
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		content, err := readBounded(full)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, secretFile{name: e.Name(), content: content})
	}
	if len(files) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return files, nil
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
		return nil, fmt.Errorf("%s: larger than %d bytes, not a file of webhook secrets", filepath.Base(path), maxSecretFileBytes)
	}
	return content, nil
}

// fingerprint identifies a read, so that an unchanged set is neither re-parsed nor logged.
func fingerprint(files []secretFile, err error) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		_, _ = fmt.Fprintf(h, "%d:%s\x00%d:", len(f.name), f.name, len(f.content))
		h.Write(f.content)
	}
	if err != nil {
		_, _ = fmt.Fprintf(h, "error:%s", errorClass(err))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// errorClass keeps the fingerprint of a failing read stable across polls.
func errorClass(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "not-exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission"
	default:
		return err.Error()
	}
}
