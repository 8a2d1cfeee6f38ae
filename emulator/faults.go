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
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// DefaultRetryAfter is the Retry-After of injected 429s when Faults.RetryAfter is zero.
const DefaultRetryAfter = time.Second

// Faults are the fault-injection knobs. Rates are probabilities in 0..1, drawn from the
// emulator's seeded random source. Durations are not scaled by the time scale. In JSON,
// durations are Go duration strings ("250ms") and numbers are read as seconds.
type Faults struct {
	// RateLimitRate is the share of API calls answered 429 rate_limit_exceeded.
	RateLimitRate float64 `json:"rate_limit_rate"`
	// RateLimitType is the error type of those 429s: "requests" (the default) or
	// "tokens". Their x-ratelimit-remaining-* and x-ratelimit-reset-* of that type say
	// 0 and RetryAfter.
	RateLimitType string `json:"rate_limit_type"`
	// InsufficientQuotaRate is the share of API calls answered 429 insufficient_quota
	// (no Retry-After: retrying does not help until the account has credit again).
	InsufficientQuotaRate float64 `json:"insufficient_quota_rate"`
	// ServerErrorRate is the share of API calls answered 500 server_error.
	ServerErrorRate float64 `json:"server_error_rate"`
	// RetryAfter is the Retry-After of injected 429s (DefaultRetryAfter when zero). It
	// is sent as Retry-After (whole seconds, rounded up) and Retry-After-Ms.
	RetryAfter time.Duration `json:"retry_after"`
	// WebhookDropRate is the share of deliveries never sent.
	WebhookDropRate float64 `json:"webhook_drop_rate"`
	// WebhookDuplicateRate is the share of deliveries sent twice with the same webhook-id.
	WebhookDuplicateRate float64 `json:"webhook_duplicate_rate"`
	// WebhookDelayRate is the share of deliveries held back by WebhookDelay first.
	WebhookDelayRate float64 `json:"webhook_delay_rate"`
	// WebhookDelay is the extra delay of delayed deliveries.
	WebhookDelay time.Duration `json:"webhook_delay"`
	// WebhookReorder shuffles each endpoint's deliveries within ReorderWindow.
	WebhookReorder bool `json:"webhook_reorder"`
}

// ReorderWindow is how far (unscaled) a delivery may be moved when
// Faults.WebhookReorder is on.
const ReorderWindow = 200 * time.Millisecond

type faultsJSON struct {
	RateLimitRate         *float64      `json:"rate_limit_rate,omitempty"`
	RateLimitType         *string       `json:"rate_limit_type,omitempty"`
	InsufficientQuotaRate *float64      `json:"insufficient_quota_rate,omitempty"`
	ServerErrorRate       *float64      `json:"server_error_rate,omitempty"`
	RetryAfter            *jsonDuration `json:"retry_after,omitempty"`
	WebhookDropRate       *float64      `json:"webhook_drop_rate,omitempty"`
	WebhookDuplicateRate  *float64      `json:"webhook_duplicate_rate,omitempty"`
	WebhookDelayRate      *float64      `json:"webhook_delay_rate,omitempty"`
	WebhookDelay          *jsonDuration `json:"webhook_delay,omitempty"`
	WebhookReorder        *bool         `json:"webhook_reorder,omitempty"`
}

// MarshalJSON writes every knob, durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	ra, wd := jsonDuration(f.RetryAfter), jsonDuration(f.WebhookDelay)
	typ := f.rateLimitType()
	return json.Marshal(faultsJSON{
		RateLimitRate:         &f.RateLimitRate,
		RateLimitType:         &typ,
		InsufficientQuotaRate: &f.InsufficientQuotaRate,
		ServerErrorRate:       &f.ServerErrorRate,
		RetryAfter:            &ra,
		WebhookDropRate:       &f.WebhookDropRate,
		WebhookDuplicateRate:  &f.WebhookDuplicateRate,
		WebhookDelayRate:      &f.WebhookDelayRate,
		WebhookDelay:          &wd,
		WebhookReorder:        &f.WebhookReorder,
	})
}

// UnmarshalJSON sets the knobs present in data and leaves the others as they are, so
// decoding onto the current knobs applies a partial update.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	setF := func(dst *float64, src *float64) {
		if src != nil {
			*dst = *src
		}
	}
	setF(&f.RateLimitRate, j.RateLimitRate)
	setF(&f.InsufficientQuotaRate, j.InsufficientQuotaRate)
	if j.RateLimitType != nil {
		f.RateLimitType = *j.RateLimitType
	}
	setF(&f.ServerErrorRate, j.ServerErrorRate)
	setF(&f.WebhookDropRate, j.WebhookDropRate)
	setF(&f.WebhookDuplicateRate, j.WebhookDuplicateRate)
	setF(&f.WebhookDelayRate, j.WebhookDelayRate)
	if j.RetryAfter != nil {
		f.RetryAfter = time.Duration(*j.RetryAfter)
	}
	if j.WebhookDelay != nil {
		f.WebhookDelay = time.Duration(*j.WebhookDelay)
	}
	if j.WebhookReorder != nil {
		f.WebhookReorder = *j.WebhookReorder
	}
	return nil
}

func (f Faults) validate() error {
	for name, r := range map[string]float64{
		"rate_limit_rate": f.RateLimitRate, "server_error_rate": f.ServerErrorRate, "insufficient_quota_rate": f.InsufficientQuotaRate,
		"webhook_drop_rate": f.WebhookDropRate, "webhook_duplicate_rate": f.WebhookDuplicateRate,
		"webhook_delay_rate": f.WebhookDelayRate,
	} {
		if r < 0 || r > 1 || r != r {
			return fmt.Errorf("%s must be between 0 and 1, got %v", name, r)
		}
	}
	if f.RetryAfter < 0 || f.WebhookDelay < 0 {
		return fmt.Errorf("retry_after and webhook_delay must not be negative")
	}
	if t := f.RateLimitType; t != "" && t != "requests" && t != "tokens" {
		return fmt.Errorf("rate_limit_type must be \"requests\" or \"tokens\", got %q", t)
	}
	return nil
}

// rateLimitType is the error type of injected rate limit answers.
func (f Faults) rateLimitType() string {
	if f.RateLimitType == "tokens" {
		return "tokens"
	}
	return "requests"
}

func (f *Faults) clamp() {
	if f.RateLimitType != "tokens" {
		f.RateLimitType = ""
	}
	for _, r := range []*float64{
		&f.RateLimitRate, &f.InsufficientQuotaRate, &f.ServerErrorRate, &f.WebhookDropRate, &f.WebhookDuplicateRate, &f.WebhookDelayRate,
	} {
		switch {
		case *r != *r || *r < 0:
			*r = 0
		case *r > 1:
			*r = 1
		}
	}
	f.RetryAfter = max(f.RetryAfter, 0)
	f.WebhookDelay = max(f.WebhookDelay, 0)
}

// jsonDuration is a duration written as a Go duration string and read from a string
// or a number of seconds.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			if secs, err2 := strconv.ParseFloat(s, 64); err2 == nil {
				*d = jsonDuration(secs * float64(time.Second))
				return nil
			}
			return err
		}
		*d = jsonDuration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration must be a string like \"1.5s\" or a number of seconds")
	}
	*d = jsonDuration(secs * float64(time.Second))
	return nil
}

// injectedFault is what rollFault decided for one API call.
type injectedFault int

const (
	noFault injectedFault = iota
	faultRateLimit
	faultInsufficientQuota
	faultServerError
)

// rollFault draws the fault, if any, for one API call: its kind, Retry-After and, for
// rate limits, the error type.
func (e *Emulator) rollFault() (injectedFault, time.Duration, string) {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	f := e.faults
	if f.RateLimitRate > 0 && e.faultRng.Float64() < f.RateLimitRate {
		ra := f.RetryAfter
		if ra <= 0 {
			ra = DefaultRetryAfter
		}
		return faultRateLimit, ra, f.rateLimitType()
	}
	if f.InsufficientQuotaRate > 0 && e.faultRng.Float64() < f.InsufficientQuotaRate {
		return faultInsufficientQuota, 0, ""
	}
	if f.ServerErrorRate > 0 && e.faultRng.Float64() < f.ServerErrorRate {
		return faultServerError, 0, ""
	}
	return noFault, 0, ""
}
