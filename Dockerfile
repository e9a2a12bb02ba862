# mechdrift in a container: Debian bookworm with exactly the packages `make deps`
# installs (both read tools/debian-packages.txt through tools/deps.sh), then the build.
# By default the container regenerates everything into /mechdrift/results:
#   docker build -t mechdrift .
#   docker run --rm -v "$PWD/results:/mechdrift/results" mechdrift
FROM debian:bookworm-slim

WORKDIR /mechdrift
COPY tools/debian-packages.txt tools/deps.sh tools/
RUN bash tools/deps.sh install && rm -rf /var/lib/apt/lists/*

COPY . .
RUN make -j"$(nproc)" all

CMD ["make", "reproduce-all"]
