# One image for every DTR service; docker-compose picks the subcommand.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p dtr && cp target/release/dtr /usr/local/bin/dtr

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/dtr --create-home dtr \
 && mkdir /pki && chown dtr /pki && chmod 700 /pki
COPY --from=build /usr/local/bin/dtr /usr/local/bin/dtr
# The PKI volume takes this directory's owner and mode when it is first created.
USER dtr
WORKDIR /var/lib/dtr
ENTRYPOINT ["dtr"]
