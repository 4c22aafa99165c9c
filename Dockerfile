# container-statsd images. Three targets:
#
# 1. export: the compiled binaries only, written to the host (BuildKit):
#      docker build --target export --output type=local,dest=dist .
#    gives dist/container-statsd-x86_64 and dist/container-statsd-aarch64 (glibc, Linux).
#    Or the Rust original's way, from the runtime image built below:
#      docker run --rm --user "$(id -u)" -v "$PWD/dist:/tmp/mount" --entrypoint cp container-statsd \
#        /opt/container-statsd/bin/container-statsd /tmp/mount/
#
# 2. runtime (the default): the daemon with the Docker CLI, talking to the host's engine:
#      docker build -t container-statsd .
#      docker run -d --name container-statsd --restart unless-stopped \
#        -v /var/run/docker.sock:/var/run/docker.sock \
#        --group-add "$(stat -c %g /var/run/docker.sock)" \
#        -v /:/host:ro,rslave \
#        -v container-statsd-state:/var/lib/container-statsd \
#        -e QDB_CLIENT_CONF='http::addr=questdb.example:9000;username=u;password=p;' \
#        container-statsd --node "$(hostname)" --host-root /host --disks /dev/nvme0n1p1
#    - the docker socket is the host engine (root-equivalent; mount it only into trusted images);
#      --group-add gives the image's non-root user the socket's group;
#    - `-v /:/host:ro,rslave` with `--host-root /host` is only needed for --disks: the daemon
#      reads /proc, /sys, /dev and statfs()es mount points under that root (Deno refuses
#      /proc, /sys and /dev themselves without --allow-all); `-v /proc:/host/proc:ro` alone is
#      not enough for disk space, which needs the mount points too;
#    - QuestDB credentials through QDB_CLIENT_CONF, not a flag, so they stay out of `ps`;
#    - no systemd in a container: the entrypoint passes --watchdog disabled (Docker's own
#      --restart and health handling apply instead). `docker stop` sends SIGTERM and waits
#      10 s by default; give the final publish more with `--stop-timeout 30` if QuestDB is slow.
#    With the engine-free cgroup source (`--source cgroup`, docs/cgroup.md) the daemon reads each
#    container's cgroup files and /proc/<pid>/net/dev under --host-root instead of `docker
#    stats` (the socket stays: container names and events come from the engine). The bind is
#    then required; `--pid host` shares the host's process view and `--cgroupns host` makes
#    /proc/<pid>/cgroup paths absolute (private is the default on cgroup v2):
#      docker run -d --name container-statsd --restart unless-stopped \
#        -v /var/run/docker.sock:/var/run/docker.sock \
#        --group-add "$(stat -c %g /var/run/docker.sock)" \
#        -v /:/host:ro,rslave --pid host --cgroupns host \
#        -v container-statsd-state:/var/lib/container-statsd \
#        -e QDB_CLIENT_CONF='http::addr=questdb.example:9000;username=u;password=p;' \
#        container-statsd --node "$(hostname)" --source cgroup --host-root /host
#
# 3. build: the toolchain stage, compiling on the build machine's own platform for both targets
#    (deno compile cross-compiles; it downloads the target's denort runtime, so it needs
#    network access to dl.deno.land at build time).
#
# Permission flags come from deno.json's compile tasks (`deno task compile`), so the binary gets
# exactly the daemon's permissions (--allow-run=docker, --allow-env=<list>, --allow-net,
# --allow-read, --allow-write, --allow-sys=statfs,systemMemoryInfo, --unstable-net).

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
