# Telemetra: one static binary, every role a subcommand (telemetra dev|process|project|serve|...).
# Build: docker build -t telemetra .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/telemetra ./cmd/telemetra

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/telemetra /usr/local/bin/telemetra
USER nonroot
ENTRYPOINT ["/usr/local/bin/telemetra"]
CMD ["--help"]
