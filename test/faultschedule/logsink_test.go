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

package faultschedule

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// body strips the timestamp the book puts before each line.
func body(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l[strings.Index(l, "s ")+2:]
	}
	return out
}

func TestLogBookKeepsTheLastLinesInOrder(t *testing.T) {
	g := NewWithT(t)
	b := newLogBook(5)
	for i := range 12 {
		b.add(fmt.Sprint(i))
	}
	g.Expect(body(b.tail(3))).To(Equal([]string{"9", "10", "11"}))
	g.Expect(body(b.tail(100))).To(Equal([]string{"7", "8", "9", "10", "11"}), "the book holds its last max lines")
}

func TestLogBookReportsAFailedResourceFromItsFirstLine(t *testing.T) {
	g := NewWithT(t)
	b := newLogBook(1000)
	b.add("m1 Reconciling name=b-1")
	b.add("m1 Reconciling name=b-10") // another resource whose name starts alike
	b.add("harness: deleting b-1")
	for i := range 200 {
		b.add(fmt.Sprintf("m1 Reconciling name=b-2 pass=%d", i))
	}
	got := body(b.about([]string{"b-1"}, 2, 50))
	g.Expect(got).To(Equal([]string{
		"m1 Reconciling name=b-1",
		"harness: deleting b-1",
		"m1 Reconciling name=b-2 pass=198",
		"m1 Reconciling name=b-2 pass=199",
	}))
	g.Expect(b.about([]string{"b-2"}, 0, 50)).To(HaveLen(50), "at most limit lines, the last ones")
	g.Expect(body(b.about(nil, 1, 50))).To(Equal([]string{"m1 Reconciling name=b-2 pass=199"}))
}
