# Chronik server image. No base image can be pulled here, so the binary is built on the
# host first: `make docker` runs `CGO_ENABLED=0 go build -o bin/ ./cmd/...` (a static
# binary) and then `docker build -t chronik:dev .`.
FROM scratch

COPY bin/chronik-server /chronik-server

# 9092 Kafka, 9644 HTTP (/metrics, /health), 5001 raft transport (raft-cluster).
EXPOSE 9092 9644 5001
VOLUME /data

ENTRYPOINT ["/chronik-server"]
CMD ["standalone", "--data-dir", "/data"]
