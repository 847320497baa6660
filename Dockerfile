# syntax=docker/dockerfile:1
# One image with every Tradewind binary: tradewind-operator, tradewind-adapter, tradewind-bridge and twctl.
#   docker build -t tradewind:dev .
# The chart runs the operator from it, and the operator runs adapters and bridges from the same image.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /src
# Cargo's registry and the target directory are build caches, so a rebuild after a source change is incremental.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
        -p operator --bin tradewind-operator \
        -p adapter --bin tradewind-adapter \
        -p erp-bridge --bin tradewind-bridge \
        -p cli --bin twctl \
    && mkdir -p /out \
    && for bin in tradewind-operator tradewind-adapter tradewind-bridge twctl; do \
         cp "target/release/$bin" /out/ && strip "/out/$bin"; \
       done

# distroless/cc: glibc, libgcc and CA certificates, no shell, no package manager; `nonroot` is uid 65532, the
# user the chart and the operator's rendered pods run as.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tradewind-operator"]
LABEL org.opencontainers.image.title="tradewind" \
      org.opencontainers.image.description="Tradewind operator, adapter, ERP bridge and twctl" \
      org.opencontainers.image.source="https://github.com/tradewind-dev/tradewind" \
      org.opencontainers.image.licenses="Apache-2.0"
