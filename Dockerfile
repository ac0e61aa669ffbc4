# Two stages: a Rust builder, then only the binary on distroless (no shell, non-root).
#
#   docker build -t xwms-starter .
#   docker run --rm -p 3000:3000 -e DATABASE_URL=postgres://... -e XWMS_SANDBOX=true xwms-starter
#
# The binary needs nothing else at run time: templates, static files, config/*.toml and
# migrations are compiled in, PostgreSQL is spoken by tokio-postgres (no libpq) and TLS
# by rustls with bundled web-PKI roots (no OpenSSL).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /app

# Dependencies first, in a layer of their own: it is rebuilt only when Cargo.toml or
# Cargo.lock change, not on every edit of the app. (The same idea as cargo-chef,
# without installing it: stub sources that make Cargo compile every dependency.)
# The stubs' own artifacts are then deleted, so the real sources below are always
# compiled, even when their timestamps are older than the stubs'.
# Cargo reads every workspace member's manifest, so each member's Cargo.toml is copied
# (with a stub main); only this package is built. The two infrastructure crates
# (crates/) are dependencies a product does not edit: they are copied whole and built here.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY loadgen/Cargo.toml ./loadgen/
COPY xtask/Cargo.toml ./xtask/
RUN mkdir -p src loadgen/src xtask/src \
    && echo 'fn main() {}' > src/main.rs \
    && : > src/lib.rs \
    && echo 'fn main() {}' > loadgen/src/main.rs \
    && echo 'fn main() {}' > xtask/src/main.rs \
    && cargo build --release --locked --package xwms-starter --no-default-features \
    && rm -rf src \
        target/release/xwms-starter* \
        target/release/.fingerprint/xwms-starter-* \
        target/release/deps/xwms_starter-* \
        target/release/deps/libxwms_starter-*

# Everything the build reads: embed_migrations!("migrations"), include_str!(config/*.toml),
# askama's templates/, include_bytes!(static/*), the texts in locales/. Least often
# changed first.
COPY migrations ./migrations
COPY config ./config
COPY static ./static
COPY templates ./templates
COPY locales ./locales
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --package xwms-starter --no-default-features \
    && cp target/release/xwms-starter /usr/local/bin/xwms-starter


# (--no-default-features: without the private development PostgreSQL, crates/dev-postgres;
# the image always has DATABASE_URL.)
# `:nonroot` runs as uid/gid 65532. It has no shell and no curl/wget, so the binary
# checks itself: `xwms-starter healthcheck` asks its own GET /health.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime

LABEL org.opencontainers.image.title="xwms-starter" \
      org.opencontainers.image.description="Log in with XWMS: actix-web, askama and Diesel on PostgreSQL" \
      org.opencontainers.image.licenses="MIT"

COPY --from=builder /usr/local/bin/xwms-starter /app/xwms-starter

# Production by default: real XWMS credentials and SESSION_KEY are required, unless
# XWMS_SANDBOX=true is set for a demo. DATABASE_URL always has to be given.
ENV HOST=0.0.0.0 \
    PORT=3000 \
    APP_ENV=production

USER 65532:65532
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/app/xwms-starter", "healthcheck"]
ENTRYPOINT ["/app/xwms-starter"]
