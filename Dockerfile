# syntax=docker/dockerfile:1
# One image with every Boomerang binary (gateway, wallet-svc, accrual-svc,
# campaign-svc, referral-svc, notify-svc, and `boomerang` for the all-in-one suite). The
# services share ~95% of their code and dependencies, so one build and one
# image to pin, scan and pull beats five near-identical ones; the Helm chart
# picks the binary per Deployment with `command`.
#
# Build: docker build -t boomerang:dev .
# The release build runs scripts/build-release.sh, the same script CI runs.

ARG RUST_VERSION=1.95.0

# cargo-chef caches the dependency build in its own layer: changing our code
# rebuilds only our crates.
FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN scripts/build-release.sh /out

# Distroless: glibc and CA certificates, no shell, no package manager. Time
# zones are bundled into the binaries (jiff), so no zoneinfo is needed.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/ /usr/local/bin/
# nonroot (65532); the chart also runs it with a read-only root filesystem.
USER 65532:65532
# gateway 50051, wallet 50061, accrual 50062, campaign 50063, referral 50064,
# notify 50065, metrics 9464
EXPOSE 50051 50061 50062 50063 50064 50065 9464
ENTRYPOINT ["/usr/local/bin/gateway"]
