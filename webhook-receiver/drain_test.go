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
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestDrainOnShutdown checks the shutdown sequence: once stopped, the receiver reports
// not ready at once but keeps answering deliveries, on kept-alive connections and new
// ones, for the drain period, and only then closes its listener.
func TestDrainOnShutdown(t *testing.T) {
	g := NewWithT(t)
	const drain = 2 * time.Second
	sec := testSecret(t, 0)
	r, _ := newFakeReceiver(t, Options{BindAddress: "127.0.0.1:0", DrainPeriod: drain}, nil, newBatch("ns", "b", "batch_1"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	g.Eventually(r.Addr, 10*time.Second, 10*time.Millisecond).ShouldNot(BeEmpty())
	g.Eventually(func() error { return r.ReadyCheck(nil) }, 5*time.Second, 10*time.Millisecond).Should(Succeed())
	url := "http://" + r.Addr() + DefaultPath

	// One kept-alive connection, as an ingress controller holds to its upstreams.
	keepAlive := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
	n := 0
	deliver := func(c *http.Client) (int, error) {
		n++
		now := time.Now()
		w := signedEvent(
			sec,
			fmt.Sprintf("wh_%d", n),
			now,
			eventBody(fmt.Sprintf("evt_%d", n), "batch.completed", now.Add(time.Duration(n)*time.Second), "batch_1"),
		)
		req := w.request(url)
		req.RequestURI = ""
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	g.Expect(deliver(keepAlive)).To(Equal(http.StatusOK))

	stopped := time.Now()
	cancel()
	g.Eventually(func() error { return r.ReadyCheck(nil) }, time.Second, 5*time.Millisecond).Should(MatchError(ContainSubstring("shutting down")))
	for time.Since(stopped) < drain-500*time.Millisecond {
		g.Expect(deliver(keepAlive)).To(Equal(http.StatusOK), "on the kept-alive connection, %s after the stop", time.Since(stopped))
		g.Expect(deliver(&http.Client{Timeout: 10 * time.Second})).
			To(Equal(http.StatusOK), "on a new connection, %s after the stop", time.Since(stopped))
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-done:
		g.Expect(err).NotTo(HaveOccurred())
	case <-time.After(drain + 30*time.Second):
		t.Fatal("the receiver did not stop after its drain period")
	}
	g.Expect(time.Since(stopped)).To(BeNumerically(">=", drain))
	_, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	g.Expect(err).To(HaveOccurred(), "the listener is closed after the drain")
}
