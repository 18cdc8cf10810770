# orderlane: one static binary on a distroless base.
#   docker build -t orderlane .
#   docker run -p 8080:8080 -v orderlane-data:/data orderlane
# Settings are ORDERLANE_* environment variables (docs/configuration.md).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/orderlane ./cmd/orderlane \
	&& mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/orderlane /usr/local/bin/orderlane
COPY --from=build --chown=65532:65532 /out/data /data
# The data dir holds the embedded JetStream store and SQLite (unused with
# ORDERLANE_NATS_URL and ORDERLANE_DATABASE_URL), the generated API token
# and the token store.
ENV ORDERLANE_HTTP_ADDR=:8080 ORDERLANE_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/orderlane"]
CMD ["serve"]
