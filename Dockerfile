# syntax=docker/dockerfile:1
# One image holds both binaries: /manager (the controllers, the default entrypoint) and
# /webhook-receiver (selected with the container's command).

# Build the binaries on the build host's platform and cross-compile for the target.
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Copy the Go Modules manifests
COPY go.mod go.mod
COPY go.sum go.sum
# Cache deps before building and copying source so that we don't need to re-download as
# much and so that source changes don't invalidate our downloaded layer.
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# Copy the go source (.dockerignore keeps bin/, dist/ and .git out).
COPY . .

# Build static binaries. GOARCH has no default so that the binaries match the platform
# the image is built for (docker buildx sets TARGETOS and TARGETARCH).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/webhook-receiver ./cmd/webhook-receiver

# Use distroless as minimal base image to package the binaries.
# Refer to https://github.com/GoogleContainerTools/distroless for more details.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/manager /manager
COPY --from=builder /out/webhook-receiver /webhook-receiver
USER 65532:65532

ENTRYPOINT ["/manager"]
