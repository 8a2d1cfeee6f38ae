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

// Package receiver is the webhook receiver of openai-operator: an HTTP endpoint that
// verifies OpenAI's signed webhook events (Standard Webhooks), drops duplicates, finds
// the OpenAIBatch, OpenAIResponse or OpenAIFineTuningJob whose status carries the
// event's object id (through
// a field index of an informer cache, never a list call per request) and records the
// event in that resource's status.lastWebhookEvent. The controller treats the record as
// a trigger to read the object from the OpenAI API; the receiver does no other work.
//
// It answers 2xx only once the record has landed (or when there is nothing to record),
// so that OpenAI retries everything else. An event that arrives before any resource
// carries its id is held in bounded memory and applied as soon as the id appears.
//
// The receiver holds only webhook signing secrets, never an OpenAI API key. Its RBAC is
// get, list and watch on openaibatches, openairesponses and openaifinetuningjobs, and
// patch on their status.
package receiver
