# syntax=docker/dockerfile:1
# One image holds both binaries: /manager (the controllers, the default entrypoint) and
# /webhook-receiver (selected with the container's command).
#
# Both base images are pinned by digest, so that a build's inputs cannot change under the
# same tag. The digests are the ones Renovate resolved in kubehippie/external-dns-watcher
# (github.com/kubehippie/external-dns-watcher, Dockerfile): golang:1.26 in commit c6d9cab
# (2026-08-16, "update golang:1.26 docker digest to 0d1d3a7") and
# gcr.io/distroless/static:nonroot in commit 7dfef0d (2026-08-21, "update
# gcr.io/distroless/static:nonroot docker digest to 1c2c046"). Both are multi-platform
# index digests. To update: `docker buildx imagetools inspect golang:1.26` (and the same
# for the distroless image) and replace the digests.

# Build the binaries on the build host's platform and cross-compile for the target.
FROM --platform=$BUILDPLATFORM golang:1.26@sha256:0d1d3a794be25f809dd2cb3160d8c73276c4056a9f8242a138e908ddeee7b6b6 AS builder
ARG TARGETOS
ARG TARGETARCH
# Stamped into the binaries (--version, the start-up log line) and the image's labels;
# `make docker-build` passes them from `git describe`.
ARG VERSION=unknown
ARG GIT_COMMIT=unknown
ARG BUILD_DATE=unknown

WORKDIR /workspace
# Copy the Go Modules manifests
COPY go.mod go.mod
COPY go.sum go.sum
# Cache deps before building and copying source so that we don't need to re-download as
# much and so that source changes don't invalidate our downloaded layer.
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# Copy the go source (.dockerignore lets only the Go packages the binaries need in).
COPY . .

# Build static binaries. GOARCH has no default so that the binaries match the platform
# the image is built for (docker buildx sets TARGETOS and TARGETARCH).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X github.com/openai-operator/openai-operator/internal/version.version=${VERSION} -X github.com/openai-operator/openai-operator/internal/version.commit=${GIT_COMMIT} -X github.com/openai-operator/openai-operator/internal/version.buildDate=${BUILD_DATE}" -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X github.com/openai-operator/openai-operator/internal/version.version=${VERSION} -X github.com/openai-operator/openai-operator/internal/version.commit=${GIT_COMMIT} -X github.com/openai-operator/openai-operator/internal/version.buildDate=${BUILD_DATE}" -o /out/webhook-receiver ./cmd/webhook-receiver

# Use distroless as minimal base image to package the binaries.
# Refer to https://github.com/GoogleContainerTools/distroless for more details.
FROM gcr.io/distroless/static:nonroot@sha256:1c2c046bc09ed40fad370b599a0b1ae7987f55b01e247cf27a7c27cd97e5bbc7
ARG VERSION=unknown
ARG GIT_COMMIT=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="openai-operator"
LABEL org.opencontainers.image.description="OpenAI's long-running work as Kubernetes resources: the manager and the webhook receiver"
LABEL org.opencontainers.image.source="https://github.com/openai-operator/openai-operator"
LABEL org.opencontainers.image.licenses="Apache-2.0"
LABEL org.opencontainers.image.version="${VERSION}"
LABEL org.opencontainers.image.revision="${GIT_COMMIT}"
LABEL org.opencontainers.image.created="${BUILD_DATE}"
WORKDIR /
COPY --from=builder /out/manager /manager
COPY --from=builder /out/webhook-receiver /webhook-receiver
USER 65532:65532

ENTRYPOINT ["/manager"]
