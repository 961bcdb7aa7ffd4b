# Frontdesk: one static binary, run as a non-root user, state in /data.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces go-imap with the copy kept in third_party.
COPY third_party ./third_party
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/frontdesk ./cmd/frontdesk

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/frontdesk /usr/local/bin/frontdesk
COPY --from=build /src/deploy/frontdesk.toml /etc/frontdesk/frontdesk.toml
VOLUME /data
# SMTP, submission, submissions, IMAP, IMAPS, HTTP, HTTPS, SIP (UDP and TCP).
EXPOSE 25 587 465 143 993 80 443 5060/udp 5060/tcp
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/frontdesk"]
CMD ["serve", "--config", "/etc/frontdesk/frontdesk.toml"]
