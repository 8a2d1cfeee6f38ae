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
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/openai-operator/openai-operator/emulator"
)

func background(model, input string) responses.ResponseNewParams {
	return responses.ResponseNewParams{
		Model:      model,
		Input:      responses.ResponseNewParamsInputUnion{OfString: openai.String(input)},
		Background: openai.Bool(true),
	}
}

func waitResponse(ctx context.Context, g Gomega, c openai.Client, id string, status responses.ResponseStatus) *responses.Response {
	var r *responses.Response
	g.Eventually(func(g Gomega) {
		var err error
		r, err = c.Responses.Get(ctx, id, responses.ResponseGetParams{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(r.Status).To(Equal(status))
	}).WithTimeout(waitFor).WithPolling(2 * time.Millisecond).Should(Succeed())
	return r
}

func TestBackgroundResponseCompletes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv)

	p := background("gpt-5", "What is 2+2?")
	p.Instructions = openai.String("Be brief.")
	p.Metadata = shared.Metadata{"owner": "test"}
	r, err := c.Responses.New(ctx, p)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.ID).To(HavePrefix("resp_"))
	g.Expect(r.Status).To(Equal(responses.ResponseStatusQueued))
	g.Expect(r.Background).To(BeTrue())
	g.Expect(r.Output).To(BeEmpty())

	done := waitResponse(ctx, g, c, r.ID, responses.ResponseStatusCompleted)
	g.Expect(done.OutputText()).To(Equal("echo: What is 2+2?"))
	g.Expect(done.Output).To(HaveLen(1))
	g.Expect(done.Output[0].Type).To(Equal("message"))
	g.Expect(done.Output[0].Role).To(BeEquivalentTo("assistant"))
	g.Expect(done.Usage.InputTokens).To(Equal(emulator.Tokens("Be brief." + "What is 2+2?")))
	g.Expect(done.Usage.OutputTokens).To(Equal(emulator.Tokens("echo: What is 2+2?")))
	g.Expect(done.Usage.TotalTokens).To(Equal(done.Usage.InputTokens + done.Usage.OutputTokens))
	g.Expect(done.CompletedAt).To(BeNumerically(">=", done.CreatedAt))
	g.Expect(done.Instructions.OfString).To(Equal("Be brief."))
	g.Expect(done.Metadata).To(HaveKeyWithValue("owner", "test"))
	g.Expect(done.JSON.Error.Raw()).To(Equal("null"))
	g.Expect(srv.Calls("responses.create")).To(Equal(int64(1)))
}

func TestResponseInputItemsAreEchoed(t *testing.T) {
	g := NewWithT(t)
	srv := start(t, emulator.Options{})
	c := client(srv)
	r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{
		Model: "gpt-5",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("first line", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfMessage("second line", responses.EasyInputMessageRoleUser),
		}},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.Status).To(Equal(responses.ResponseStatusCompleted), "without background the answer is synchronous")
	g.Expect(r.OutputText()).To(Equal("echo: first line\nsecond line"))
}

func TestSynchronousResponse(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv, option.WithMaxRetries(0))

	r, err := c.Responses.New(
		ctx,
		responses.ResponseNewParams{Model: "gpt-5", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}},
	)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.Status).To(Equal(responses.ResponseStatusCompleted))
	g.Expect(r.Background).To(BeFalse())
	g.Expect(r.OutputText()).To(Equal("echo: hi"))
	got, err := c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.OutputText()).To(Equal("echo: hi"))

	_, err = c.Responses.Cancel(ctx, r.ID)
	aerr := apiError(g, err)
	g.Expect(aerr.StatusCode).To(Equal(http.StatusBadRequest))
	g.Expect(aerr.Message).To(Equal("Cannot cancel a synchronous response."))

	unstored, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gpt-5", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}, Store: openai.Bool(false),
	})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Responses.Get(ctx, unstored.ID, responses.ResponseGetParams{})
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound), "store=false responses cannot be retrieved")
}

func TestResponseMagicModels(t *testing.T) {
	long := strings.Repeat("many words ", 20) // 220 bytes: far more than 16 tokens
	tests := map[string]struct {
		params responses.ResponseNewParams
		want   responses.ResponseStatus
		check  func(g Gomega, r *responses.Response)
	}{
		"max_output_tokens below the output": {
			params: func() responses.ResponseNewParams {
				p := background("gpt-5", long)
				p.MaxOutputTokens = openai.Int(16)
				return p
			}(),
			want: responses.ResponseStatusIncomplete,
			check: func(g Gomega, r *responses.Response) {
				g.Expect(r.IncompleteDetails.Reason).To(Equal("max_output_tokens"))
				g.Expect(r.Usage.OutputTokens).To(Equal(int64(16)))
				g.Expect(len(r.OutputText())).To(BeNumerically("<=", 64))
				g.Expect("echo: " + long).To(HavePrefix(r.OutputText()))
				g.Expect(r.CompletedAt).To(BeZero())
			},
		},
		"emulator-fail": {
			params: background(emulator.ModelFail, "x"),
			want:   responses.ResponseStatusFailed,
			check: func(g Gomega, r *responses.Response) {
				g.Expect(string(r.Error.Code)).To(Equal("server_error"))
				g.Expect(r.Error.Message).NotTo(BeEmpty())
				g.Expect(r.Output).To(BeEmpty())
			},
		},
	}
	srv := start(t, emulator.Options{})
	c := client(srv)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			r, err := c.Responses.New(ctx, tc.params)
			g.Expect(err).NotTo(HaveOccurred())
			tc.check(g, waitResponse(ctx, g, c, r.ID, tc.want))
		})
	}
}

func TestResponseCancelAndDelete(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	srv := start(t, emulator.Options{})
	c := client(srv, option.WithMaxRetries(0))

	r, err := c.Responses.New(ctx, background(emulator.ModelHang, "never ends"))
	g.Expect(err).NotTo(HaveOccurred())
	waitResponse(ctx, g, c, r.ID, responses.ResponseStatusInProgress)

	cancelled, err := c.Responses.Cancel(ctx, r.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cancelled.Status).To(Equal(responses.ResponseStatusCancelled))
	again, err := c.Responses.Cancel(ctx, r.ID)
	g.Expect(err).NotTo(HaveOccurred(), "a second cancel returns the final object")
	g.Expect(again.Status).To(Equal(responses.ResponseStatusCancelled))

	finished, err := c.Responses.New(ctx, background("gpt-5", "quick"))
	g.Expect(err).NotTo(HaveOccurred())
	waitResponse(ctx, g, c, finished.ID, responses.ResponseStatusCompleted)
	still, err := c.Responses.Cancel(ctx, finished.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(still.Status).To(Equal(responses.ResponseStatusCompleted), "cancelling a finished response changes nothing")
	g.Expect(still.OutputText()).To(Equal("echo: quick"))

	// Delete works mid-flight too.
	hanging, err := c.Responses.New(ctx, background(emulator.ModelHang, "x"))
	g.Expect(err).NotTo(HaveOccurred())
	for _, id := range []string{hanging.ID, finished.ID} {
		g.Expect(c.Responses.Delete(ctx, id)).To(Succeed())
		_, err = c.Responses.Get(ctx, id, responses.ResponseGetParams{})
		g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound))
		g.Expect(apiError(g, c.Responses.Delete(ctx, id)).StatusCode).To(Equal(http.StatusNotFound))
	}
	_, err = c.Responses.Cancel(ctx, "resp_unknown")
	g.Expect(apiError(g, err).StatusCode).To(Equal(http.StatusNotFound))
	g.Expect(srv.Calls("responses.delete")).To(Equal(int64(4)))
	g.Expect(srv.Calls("responses.cancel")).To(Equal(int64(4)))
}

func TestResponseCreateRefusals(t *testing.T) {
	tests := map[string]struct {
		params    responses.ResponseNewParams
		wantParam string
	}{
		"no model": {
			params:    responses.ResponseNewParams{Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}},
			wantParam: "model",
		},
		"max_output_tokens below 16": {
			params: func() responses.ResponseNewParams {
				p := background("gpt-5", "x")
				p.MaxOutputTokens = openai.Int(5)
				return p
			}(),
			wantParam: "max_output_tokens",
		},
		"background without store": {
			params: func() responses.ResponseNewParams {
				p := background("gpt-5", "x")
				p.Store = openai.Bool(false)
				return p
			}(),
			wantParam: "store",
		},
	}
	srv := start(t, emulator.Options{})
	c := client(srv, option.WithMaxRetries(0))
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := c.Responses.New(context.Background(), tc.params)
			aerr := apiError(g, err)
			g.Expect(aerr.StatusCode).To(Equal(http.StatusBadRequest))
			g.Expect(aerr.Param).To(Equal(tc.wantParam))
		})
	}
}
