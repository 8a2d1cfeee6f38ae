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

package image

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

const goodDockerfile = `# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /workspace
COPY go.mod go.mod
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/webhook-receiver ./cmd/webhook-receiver

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/manager /manager
COPY --from=builder /out/webhook-receiver /webhook-receiver
USER 65532:65532
ENTRYPOINT ["/manager"]
`

func TestPlanReadsTheDockerfile(t *testing.T) {
	g := NewWithT(t)
	stages, err := Parse(strings.NewReader(goodDockerfile))
	g.Expect(err).NotTo(HaveOccurred())
	p, err := PlanFor(stages, "arm64")
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(p.BuilderBase).To(Equal("golang:1.26"))
	g.Expect(p.Base).To(Equal("gcr.io/distroless/static:nonroot"))
	g.Expect(p.Builds).To(HaveLen(2))
	g.Expect(p.Builds[0].Env).To(Equal([]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}))
	g.Expect(p.Builds[0].Args).To(Equal([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", "/out/manager", "./cmd/manager"}))
	g.Expect(p.Builds[1].Output).To(Equal("/out/webhook-receiver"))
	g.Expect(p.WorkDir).To(Equal("/"))
	g.Expect(p.User).To(Equal("65532:65532"))
	g.Expect(p.Entrypoint).To(Equal([]string{"/manager"}))
	g.Expect(p.Copies).To(Equal([]Copy{{"/out/manager", "/manager"}, {"/out/webhook-receiver", "/webhook-receiver"}}))
}

// What the plan cannot reproduce exactly is refused, naming the line, rather than
// built differently.
func TestPlanRefusesWhatItCannotReproduce(t *testing.T) {
	final := "FROM gcr.io/distroless/static:nonroot\nCOPY --from=builder /out/manager /manager\n"
	builder := "FROM golang:1.26 AS builder\nRUN go build -o /out/manager ./cmd/manager\n"
	cases := map[string]struct {
		dockerfile string
		wantErr    string
	}{
		"a base without a local stand-in": {
			dockerfile: builder + "FROM alpine:3.20\nCOPY --from=builder /out/manager /manager\n",
			wantErr:    `no local stand-in for the base image "alpine:3.20"`,
		},
		"a RUN that is not a go build": {
			dockerfile: "FROM golang:1.26 AS builder\nRUN apt-get install -y git && go build -o /out/manager ./cmd/manager\n" + final,
			wantErr:    `line 2: cannot reproduce the RUN step "apt-get install -y git"`,
		},
		"shell syntax in a RUN": {
			dockerfile: "FROM golang:1.26 AS builder\nRUN go build -o /out/manager ./cmd/manager; strip /out/manager\n" + final,
			wantErr:    "shell syntax ';' is not supported",
		},
		"an instruction the final stage may not use": {
			dockerfile: builder + final + "RUN touch /x\n",
			wantErr:    "line 5: RUN in the final stage is not supported",
		},
		"an entrypoint in shell form": {
			dockerfile: builder + final + "ENTRYPOINT /manager\n",
			wantErr:    "line 5: ENTRYPOINT must use the JSON (exec) form",
		},
		"a COPY of a file no build writes": {
			dockerfile: builder + "FROM gcr.io/distroless/static:nonroot\nCOPY --from=builder /out/other /other\n",
			wantErr:    "line 4: COPY of /out/other, which no go build of the builder stage writes",
		},
		"a COPY from the build context into the final image": {
			dockerfile: builder + "FROM gcr.io/distroless/static:nonroot\nCOPY config.yaml /config.yaml\n",
			wantErr:    "line 4: the final stage may only COPY --from=builder",
		},
		"a build argument without a value": {
			dockerfile: "FROM golang:1.26 AS builder\nRUN GOARCH=${MYARCH} go build -o /out/manager ./cmd/manager\n" + final,
			wantErr:    "line 2: build argument MYARCH has no value",
		},
		"a relative output": {
			dockerfile: "FROM golang:1.26 AS builder\nRUN go build -o manager ./cmd/manager\n" + final,
			wantErr:    `go build needs an absolute -o path, got "manager"`,
		},
		"a builder that is not Go": {
			dockerfile: "FROM rust:1 AS builder\nRUN go build -o /out/manager ./cmd/manager\n" + final,
			wantErr:    `the builder stage starts from "rust:1", not a golang image`,
		},
		"three stages": {
			dockerfile: builder + builder + final,
			wantErr:    "want a builder stage and a final stage, found 3 stages",
		},
		"a dangling line continuation": {
			dockerfile: builder + final + "USER 65532 \\\n",
			wantErr:    "line 5: the last instruction ends with a line continuation",
		},
		"an instruction before FROM": {
			dockerfile: "RUN true\n" + builder + final,
			wantErr:    "line 1: RUN before the first FROM",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			stages, err := Parse(strings.NewReader(tc.dockerfile))
			if err == nil {
				_, err = PlanFor(stages, "amd64")
			}
			g.Expect(err).To(MatchError(ContainSubstring(tc.wantErr)))
		})
	}
}

func TestShellWords(t *testing.T) {
	cases := map[string]struct {
		in   string
		want []string
	}{
		"blanks":        {in: "  go  build\t./x ", want: []string{"go", "build", "./x"}},
		"double quotes": {in: `go build -ldflags="-s -w" -o /o`, want: []string{"go", "build", "-ldflags=-s -w", "-o", "/o"}},
		"single quotes": {in: `go build -ldflags='-X a=b c'`, want: []string{"go", "build", "-ldflags=-X a=b c"}},
		"escapes":       {in: `a\ b "c\"d"`, want: []string{"a b", `c"d`}},
		"empty quotes":  {in: `a ""`, want: []string{"a", ""}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := shellWords(tc.in)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}
