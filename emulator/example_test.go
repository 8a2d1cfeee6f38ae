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

package emulator_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/openai-operator/openai-operator/emulator"
)

// A test of a webhook handler: the emulator plays OpenAI, sending signed events to the
// handler under test when a background response ends.
func ExampleStart() {
	srv, err := emulator.Start(emulator.Options{TimeScale: 0.001})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	// The handler under test verifies deliveries with the emulator's signing secret.
	events := make(chan string, 1)
	verifier := openai.NewClient(option.WithAPIKey("unused"), option.WithWebhookSecret(srv.WebhookSecret()))
	handler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := verifier.Webhooks.Unwrap(body, r.Header)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		events <- ev.Type
	}))
	defer handler.Close()
	srv.AddWebhookURL(handler.URL)

	client := openai.NewClient(option.WithBaseURL(srv.URL()), option.WithAPIKey(emulator.DefaultAPIKey))
	resp, err := client.Responses.New(context.Background(), responses.ResponseNewParams{
		Model:      "gpt-5",
		Input:      responses.ResponseNewParamsInputUnion{OfString: openai.String("hello")},
		Background: openai.Bool(true),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Status)
	select {
	case typ := <-events:
		fmt.Println(typ)
	case <-time.After(10 * time.Second):
		fmt.Println("no event")
	}
	done, err := client.Responses.Get(context.Background(), resp.ID, responses.ResponseGetParams{})
	if err != nil {
		panic(err)
	}
	fmt.Println(done.OutputText())
	// Output:
	// queued
	// response.completed
	// echo: hello
}
