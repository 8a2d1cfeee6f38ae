package openaiclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOperation(t *testing.T) {
	cases := map[string]struct{ method, path, want string }{
		"upload":           {http.MethodPost, "/v1/files", "files.create"},
		"file content":     {http.MethodGet, "/v1/files/file-abc/content", "files.content"},
		"file delete":      {http.MethodDelete, "/v1/files/file-abc", "files.delete"},
		"batch list":       {http.MethodGet, "/v1/batches", "batches.list"},
		"batch get":        {http.MethodGet, "/v1/batches/batch_1", "batches.retrieve"},
		"batch cancel":     {http.MethodPost, "/v1/batches/batch_1/cancel", "batches.cancel"},
		"response create":  {http.MethodPost, "/v1/responses", "responses.create"},
		"behind a proxy":   {http.MethodGet, "/openai/v1/responses/resp_1", "responses.retrieve"},
		"other resource":   {http.MethodGet, "/v1/models", "other"},
		"job create":       {http.MethodPost, "/v1/fine_tuning/jobs", "fine_tuning.jobs.create"},
		"job list":         {http.MethodGet, "/v1/fine_tuning/jobs", "fine_tuning.jobs.list"},
		"job get":          {http.MethodGet, "/v1/fine_tuning/jobs/ftjob-1", "fine_tuning.jobs.retrieve"},
		"job cancel":       {http.MethodPost, "/v1/fine_tuning/jobs/ftjob-1/cancel", "fine_tuning.jobs.cancel"},
		"job pause":        {http.MethodPost, "/v1/fine_tuning/jobs/ftjob-1/pause", "fine_tuning.jobs.pause"},
		"job resume":       {http.MethodPost, "/v1/fine_tuning/jobs/ftjob-1/resume", "fine_tuning.jobs.resume"},
		"job events":       {http.MethodGet, "/v1/fine_tuning/jobs/ftjob-1/events", "fine_tuning.jobs.events"},
		"job checkpoints":  {http.MethodGet, "/v1/fine_tuning/jobs/ftjob-1/checkpoints", "fine_tuning.jobs.checkpoints"},
		"checkpoint perms": {http.MethodGet, "/v1/fine_tuning/checkpoints/ft:x/permissions", "other"},
		"no version":       {http.MethodGet, "/batches", "other"},
		"webhook create":   {http.MethodPost, "/v1/webhook_endpoints", "webhook_endpoints.create"},
		"webhook update":   {http.MethodPost, "/v1/webhook_endpoints/whe_1", "webhook_endpoints.update"},
		"webhook rotate":   {http.MethodPost, "/v1/webhook_endpoints/whe_1/rotate_secret", "webhook_endpoints.rotate_secret"},
		"webhook test":     {http.MethodPost, "/v1/webhook_endpoints/whe_1/test", "webhook_endpoints.test"},
		"webhook delete":   {http.MethodDelete, "/v1/webhook_endpoints/whe_1", "webhook_endpoints.delete"},
		"event types":      {http.MethodGet, "/v1/webhook_event_types", "webhook_event_types.list"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Operation(tc.method, tc.path); got != tc.want {
				t.Fatalf("Operation(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

func TestCredentialsFromSecret(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"}, Data: map[string][]byte{
		"apiKey": []byte("sk-abc\n"), "project": []byte("proj_1"),
	}}
	c, err := CredentialsFromSecret(s)
	if err != nil || c.APIKey != "sk-abc" || c.Project != "proj_1" {
		t.Fatalf("CredentialsFromSecret = %+v, %v", c, err)
	}
	delete(s.Data, "apiKey")
	_, err = CredentialsFromSecret(s)
	if !errors.Is(err, ErrMissingKey) || !strings.Contains(err.Error(), `Secret ns/creds has no "apiKey" key`) {
		t.Fatalf("err = %v", err)
	}
}

// TestClassifyAgainstAServer drives a real client against answers OpenAI gives.
func TestClassifyAgainstAServer(t *testing.T) {
	const key = "sk-proj-abcdefghijklmnop"
	cases := map[string]struct {
		status     int
		header     map[string]string
		body       string
		want       Class
		retryAfter time.Duration
		message    string
	}{
		"bad key": {status: 401, body: `{"error":{"message":"Incorrect API key provided: sk-proj-ab***op.","type":"invalid_request_error","code":"invalid_api_key"}}`,
			want: Unauthorized, message: "OpenAI answered 401 (invalid_api_key): Incorrect API key provided: [redacted]."},
		"missing scope": {status: 401, body: `{"error":{"message":"You have insufficient permissions for this operation. Missing scopes: api.batch.write.","type":"invalid_request_error","code":null}}`,
			want: Unauthorized},
		"wrong project": {status: 401, body: `{"error":{"message":"OpenAI-Project header should match project for API key","type":"invalid_request_error","code":"mismatched_project"}}`,
			want: Unauthorized},
		"forbidden": {status: 403, body: `{"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","code":"unsupported_country_region_territory"}}`,
			want: Forbidden},
		"rate limited with seconds": {status: 429, header: map[string]string{"Retry-After": "3"}, body: `{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}`,
			want: RateLimited, retryAfter: 3 * time.Second},
		"rate limited with ms": {status: 429, header: map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, body: `{}`,
			want: RateLimited, retryAfter: 250 * time.Millisecond},
		"rate limited on tokens, reset headers only": {status: 429,
			header: map[string]string{"X-Ratelimit-Reset-Requests": "20ms", "X-Ratelimit-Reset-Tokens": "6m0s", "X-Ratelimit-Remaining-Tokens": "0"},
			body:   `{"error":{"message":"Rate limit reached on tokens per min (TPM)","type":"tokens","code":"rate_limit_exceeded"}}`,
			want:   RateLimited, retryAfter: 6 * time.Minute},
		"rate limited on requests, reset headers only": {status: 429,
			header: map[string]string{"X-Ratelimit-Reset-Requests": "1.5s", "X-Ratelimit-Reset-Tokens": "6m0s", "X-Ratelimit-Remaining-Requests": "0"},
			body:   `{"error":{"message":"Rate limit reached on requests per min (RPM)","type":"requests","code":"rate_limit_exceeded"}}`,
			want:   RateLimited, retryAfter: 1500 * time.Millisecond},
		"rate limited, untyped: the exhausted limit's reset": {status: 429,
			header: map[string]string{"X-Ratelimit-Reset-Requests": "20ms", "X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Tokens": "6m0s", "X-Ratelimit-Remaining-Tokens": "500"},
			body:   `{}`, want: RateLimited, retryAfter: 20 * time.Millisecond},
		"insufficient quota": {status: 429, body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","code":"insufficient_quota"}}`,
			want: QuotaExceeded, message: "OpenAI answered 429 (insufficient_quota): You exceeded your current quota, please check your plan and billing details."},
		"not found":     {status: 404, body: `{"error":{"message":"No batch found","code":null}}`, want: NotFound},
		"conflict":      {status: 409, body: `{}`, want: Transient},
		"server":        {status: 503, body: `{}`, want: Transient},
		"bad request":   {status: 400, body: `{"error":{"message":"bad endpoint","code":"invalid_value"}}`, want: Terminal, message: "OpenAI answered 400 (invalid_value): bad endpoint"},
		"unprocessable": {status: 422, body: `{"error":{"message":"cannot process","code":null}}`, want: Terminal},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			var observed []string
			f := &Factory{BaseURL: srv.URL + "/v1", Observe: func(op string, code int, _ time.Duration) {
				observed = append(observed, op)
			}}
			api := f.New(Credentials{APIKey: key})
			_, err := api.Batches.Get(context.Background(), "batch_1")
			if err == nil {
				t.Fatal("expected an error")
			}
			c := Classify(err, key)
			if c.Class != tc.want || c.StatusCode != tc.status || c.RetryAfter != tc.retryAfter {
				t.Fatalf("Classify = %+v, want class %v, status %d, retryAfter %v", c, tc.want, tc.status, tc.retryAfter)
			}
			if tc.message != "" && c.Message != tc.message {
				t.Fatalf("message = %q, want %q", c.Message, tc.message)
			}
			if strings.Contains(c.Message, "sk-proj") {
				t.Fatalf("message leaks the key: %q", c.Message)
			}
			if got := c.Class.Refused(); got != (tc.want == Unauthorized || tc.want == Forbidden || tc.want == QuotaExceeded) {
				t.Fatalf("Refused() = %v for %v", got, c.Class)
			}
			if len(observed) != 1 || observed[0] != "batches.retrieve" {
				t.Fatalf("observed calls %v, want exactly one batches.retrieve (no SDK retries)", observed)
			}
		})
	}
}

func TestClassifyTransportError(t *testing.T) {
	f := &Factory{BaseURL: "http://127.0.0.1:1/v1", RequestTimeout: time.Second}
	api := f.New(Credentials{APIKey: "sk-x"})
	_, err := api.Batches.Get(context.Background(), "batch_1")
	if c := Classify(err); c.Class != Transient || c.StatusCode != 0 {
		t.Fatalf("Classify = %+v, want transient with no status", c)
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		t.Fatal("a refused connection is not an API error")
	}
}

func TestScrub(t *testing.T) {
	got := Scrub("key sk-live-0123456789 and sk-ab***yz and my-secret-token", "my-secret-token")
	if got != "key [redacted] and [redacted] and [redacted]" {
		t.Fatalf("Scrub = %q", got)
	}
}
