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

// Package logging holds the processes' logger options.
package logging

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LazyWith is a zap option that makes every logger derived with WithValues (With in
// zap) encode its values only when it first writes an entry. controller-runtime derives
// one for every reconcile (controller, namespace, name, reconcileID); eagerly, each
// clones the encoder with a 1 KiB buffer, which a reconcile that logs nothing (most of
// them: every object's pass at a restart) throws away. The values are those passed to
// WithValues; a pointer among them is read when the entry is written.
func LazyWith() zap.Option {
	return zap.WrapCore(func(c zapcore.Core) zapcore.Core { return lazyCore{c} })
}

type lazyCore struct{ zapcore.Core }

// With defers the fields, and keeps deferring those of the loggers derived from it.
func (c lazyCore) With(fields []zapcore.Field) zapcore.Core {
	if len(fields) == 0 {
		return c
	}
	return lazyCore{zapcore.NewLazyWith(c.Core, fields)}
}
