# One image for both binaries, built with the legacy builder and no registry: `make images` builds static
# binaries on the host (CGO_ENABLED=0) into bin/, and this file only copies them onto an empty base.
FROM scratch
# /data (relay outbox) and /certs (the harness CA and the simulator's certificate) owned by the non-root user, so
# named volumes mounted there are writable.
COPY --chown=65532:65532 docker/rootfs/ /
COPY bin/simulator bin/relay /usr/local/bin/
USER 65532:65532
ENV SIMULATOR_LISTEN=0.0.0.0:8081 RELAY_LISTEN=0.0.0.0:8080 RELAY_DATA_DIR=/data
EXPOSE 8080 8081 443
ENTRYPOINT ["/usr/local/bin/simulator"]
CMD ["serve"]
