# The lambda-adapter image: one static binary at /lambda-adapter, nothing else.
# Use it from a function's image with one line:
#   COPY --from=<this image> /lambda-adapter /opt/extensions/lambda-adapter
#
# Build for the platform you deploy to: docker build --platform linux/amd64 (or linux/arm64) .
# The base image is named in full, so that builders without short-name aliases (podman, buildah)
# find it too. Without a daemon, `make image` builds the same image from the prebuilt binary.
FROM docker.io/library/rust:1-bookworm AS build
ARG TARGETARCH
WORKDIR /src
COPY . .
# The Makefile holds the one recipe for the static musl binaries (see `make build-x86_64`).
RUN case "$TARGETARCH" in \
        arm64) make build-arm64 && cp dist/arm64/lambda-adapter /lambda-adapter ;; \
        *) make build-x86_64 && cp dist/x86_64/lambda-adapter /lambda-adapter ;; \
    esac

FROM scratch
COPY --from=build /lambda-adapter /lambda-adapter
ENTRYPOINT ["/lambda-adapter"]
