# container-statsd images. Three targets:
#
# 1. export: the compiled binaries only, written to the host (BuildKit):
#      docker build --target export --output type=local,dest=dist .
#    gives dist/container-statsd-x86_64 and dist/container-statsd-aarch64 (glibc, Linux).
#    Or the Rust original's way, from the runtime image built below:
#      docker run --rm --user "$(id -u)" -v "$PWD/dist:/tmp/mount" --entrypoint cp container-statsd \
#        /opt/container-statsd/bin/container-statsd /tmp/mount/
#
# 2. runtime (the default): the daemon with the Docker CLI, talking to the host's engine, and
#    reading the host's cgroups, processes and disks under a read-only bind of its /:
#      docker build -t container-statsd .
#      docker run -d --name container-statsd --restart unless-stopped \
#        -v /var/run/docker.sock:/var/run/docker.sock \
#        --group-add "$(stat -c %g /var/run/docker.sock)" \
#        -v /:/host:ro,rslave --pid host --cgroupns host \
#        -v container-statsd-state:/var/lib/container-statsd \
#        -e QDB_CLIENT_CONF='http::addr=questdb.example:9000;username=u;password=p;' \
#        container-statsd --node "$(hostname)" --host-root /host --source cgroup --disks /dev/nvme0n1p1
#    - the docker socket is the host engine (root-equivalent; mount it only into trusted images);
#      --group-add gives the image's non-root user the socket's group;
#    - `-v /:/host:ro,rslave` with `--host-root /host`: the host's /proc, /sys, /dev and mount
#      points, which the cgroup source (each container's cgroup files and /proc/<pid>/net/dev)
#      and --disks read; `--pid host` shares the host's process view and `--cgroupns host`
#      makes /proc/<pid>/cgroup paths absolute (private is the default on cgroup v2). With
#      `--source docker` and no --disks none of the three is needed;
#    - QuestDB credentials through QDB_CLIENT_CONF, not a flag, so they stay out of `ps`;
#    - no systemd in a container: the entrypoint passes --watchdog disabled (Docker's own
#      --restart and health handling apply instead). `docker stop` sends SIGTERM and waits
#      10 s by default; give the final publish more with `--stop-timeout 30` if QuestDB is slow.
#
# 3. build: the toolchain stage, compiling on the build machine's own platform for both targets
#    (deno compile cross-compiles; it downloads the target's denort runtime, so it needs
#    network access to dl.deno.land at build time).
#
# The compile tasks (`deno task compile`) give the binary every Deno permission (--allow-all,
# which Deno asks before it opens /proc, /sys and /dev) and --unstable-net.

ARG DENO_VERSION=2.9.6
ARG DOCKER_CLI_VERSION=28

FROM --platform=$BUILDPLATFORM denoland/deno:${DENO_VERSION} AS build
WORKDIR /src
# Dependencies first, as their own layer; --frozen fails if deno.lock is out of date.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts ./
COPY src/ src/
RUN deno task compile \
  && ls -l dist/ \
  && test -x dist/container-statsd-x86_64 \
  && test -x dist/container-statsd-aarch64
# The binary for the platform the runtime image is built for.
ARG TARGETARCH
RUN case "${TARGETARCH:-amd64}" in \
      amd64) arch=x86_64 ;; \
      arm64) arch=aarch64 ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
  && mkdir -p /out \
  && cp "dist/container-statsd-${arch}" /out/container-statsd

FROM scratch AS export
COPY --from=build /src/dist/ /

FROM docker:${DOCKER_CLI_VERSION}-cli AS docker-cli

FROM debian:bookworm-slim AS runtime
# The Docker CLI is a static Go binary; the engine is the host's, through the mounted socket.
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=build /out/container-statsd /opt/container-statsd/bin/container-statsd
RUN ln -s /opt/container-statsd/bin/container-statsd /usr/local/bin/container-statsd \
  && groupadd --system --gid 10001 container-statsd \
  && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/container-statsd \
       --create-home --shell /usr/sbin/nologin container-statsd
# The spool of undelivered rows and the docker CLI's config live here.
ENV STATE_DIRECTORY=/var/lib/container-statsd \
    HOME=/var/lib/container-statsd \
    LOG_LEVEL=info
VOLUME ["/var/lib/container-statsd"]
USER 10001:10001
WORKDIR /var/lib/container-statsd
ENTRYPOINT ["/usr/local/bin/container-statsd", "--watchdog", "disabled"]
CMD ["--help"]
