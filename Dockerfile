# syntax=docker/dockerfile:1
# qserv-operator: the controller and the ingest Jobs run this same image.
#   docker build -t qserv/qserv-operator:0.1.0 .

# Build: libhdf5-dev for the HDF5 catalog reader (hdf5-metno-sys finds it through pkg-config).
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libhdf5-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target between builds; the binary is copied out of the
# cached target dir, which does not persist into the layer, and stripped on the way (`install
# -s`: the line tables of our crates serve local builds' backtraces, not the image).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin qserv-operator \
 && install -D -s -m 0755 target/release/qserv-operator /out/qserv-operator

# Runtime: the shared HDF5 library the binary links (libhdf5_serial.so.103, Debian package
# libhdf5-103-1) and CA certificates for https sources; nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libhdf5-103-1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/qserv-operator /usr/local/bin/qserv-operator
# Non-root, numeric so runAsNonRoot can verify it without a passwd lookup (the chart's
# podSecurityContext uses the same 65532).
USER 65532:65532
ENTRYPOINT ["qserv-operator"]
CMD ["run"]
