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
	"net"
	"net/http"
	"time"
)

// Server is an Emulator served over HTTP.
type Server struct {
	*Emulator
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Start serves a new emulator on 127.0.0.1 at a free port.
func Start(opts Options) (*Server, error) { return Listen("127.0.0.1:0", opts) }

// Listen serves a new emulator on addr (host:port).
func Listen(addr string, opts Options) (*Server, error) {
	e, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		e.Close()
		return nil, err
	}
	s := &Server{
		Emulator: e,
		ln:       ln,
		done:     make(chan struct{}),
		srv: &http.Server{
			Handler:           e.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			MaxHeaderBytes:    1 << 20,
		},
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("Serving emulator failed", "error", err)
		}
	}()
	return s, nil
}

// Addr returns the listening address (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the API base URL, "http://127.0.0.1:PORT/v1/", for option.WithBaseURL.
func (s *Server) URL() string { return "http://" + s.Addr() + "/v1/" }

// ControlURL returns the control API base URL, "http://127.0.0.1:PORT/emulator/".
func (s *Server) ControlURL() string { return "http://" + s.Addr() + "/emulator/" }

// Shutdown stops accepting requests, waits for those in flight (until ctx ends), then
// closes the emulator.
func (s *Server) Shutdown(ctx context.Context) error {
	// Release requests parked on a hanging synchronous response first.
	s.Emulator.Close()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// Close stops the server and the emulator at once.
func (s *Server) Close() {
	s.Emulator.Close()
	_ = s.srv.Close()
	<-s.done
}
