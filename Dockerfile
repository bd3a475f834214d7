# digitbot: the Telegram bot that reads handwritten digits, as a small self-hosted image.
#
#   docker compose up -d          (reads TELEGRAM_BOT_TOKEN etc. from .env; see README)
#
# Built in stages from the same Debian base: the builder installs the project and only its
# run-time dependencies into a virtual environment in /opt/venv; the final stage copies
# that environment and adds nothing but the Python interpreter.
# No secret is baked in: the token and admin ids come from the environment at run time.

FROM debian:bookworm-slim AS python

# pip runs from Debian's own pip wheel instead of being installed: the virtual environment
# that ships then holds no pip at all, and python3-venv is not needed (it pulls in
# ca-certificates, whose set-up fails when a build mounts its own CA bundle over the file).
# Debian stable only ever ships security fixes, and superseded versions leave the mirror,
# so exact apt pins would break the build at the next security update (hadolint DL3008).
WORKDIR /tmp/pip
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && apt-get download python3-pip-whl \
    && dpkg-deb --extract python3-pip-whl_*.deb . \
    && mv usr/share/python-wheels/pip-*.whl /tmp/pip.whl \
    && rm -rf /var/lib/apt/lists/* /tmp/pip
WORKDIR /src


# The run-time requirements alone, from pyproject.toml: the big install below is redone
# only when they change, not on every edit of pyproject.toml (tool settings, test extras).
FROM python AS requirements
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt


FROM python AS builder
ENV PIP="/opt/venv/bin/python /tmp/pip.whl/pip" \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# A CA bundle for pip, for builds behind a TLS-inspecting proxy. Being an ARG it is seen by
# this stage's RUN steps only (pip reads PIP_CERT) and never reaches the final image's ENV.
ARG PIP_CERT

# Dependencies first, so that editing the code does not download TensorFlow again.
COPY --from=requirements /tmp/requirements.txt /tmp/requirements.txt
RUN python3 -m venv --without-pip /opt/venv \
    && $PIP install --requirement /tmp/requirements.txt

# Then the project itself (no test extras), and a check that every requirement is met.
# TensorFlow's C++ headers (about 290 MB) only serve to compile custom ops: never used here.
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY recognizer ./recognizer
COPY training ./training
COPY models ./models
RUN $PIP install --no-deps . \
    && $PIP check \
    && rm -rf /opt/venv/lib/python3*/site-packages/tensorflow/include


FROM debian:bookworm-slim

# Only the interpreter the virtual environment links to (/usr/bin/python3). No
# ca-certificates: the bot's HTTP client verifies Telegram with certifi's CA bundle (or with
# SSL_CERT_FILE when an admin sets it).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid (not root, and not a uid that exists on typical hosts), so that
# files in the data volume have a predictable owner.
RUN groupadd --system --gid 10001 digitbot \
    && useradd --system --uid 10001 --gid digitbot --create-home --home-dir /home/digitbot \
       --shell /usr/sbin/nologin digitbot \
    && mkdir /data \
    && chown digitbot:digitbot /data

COPY --from=builder /opt/venv /opt/venv

# DATA_DIR holds the SQLite store, user samples and trained models: the one thing to keep.
ENV PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/data \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MPLBACKEND=Agg
VOLUME /data
WORKDIR /data

USER 10001:10001

# Build matplotlib's font cache now, not on the first photo a user sends.
RUN python -c "import matplotlib.font_manager"

# Healthy while the running bot keeps touching DATA_DIR/heartbeat (every 30 s, from its job
# queue): a hung event loop or a dead bot lets the file go stale within 90 s.
HEALTHCHECK --interval=60s --timeout=10s --start-period=2m --retries=3 \
    CMD ["python", "-c", "import os, sys, time; f = os.path.join(os.environ['DATA_DIR'], 'heartbeat'); sys.exit(0 if os.path.exists(f) and time.time() - os.path.getmtime(f) < 90 else 1)"]

# The bot stops on SIGTERM after finishing the replies under way (compose allows 45 s).
CMD ["digitbot", "run"]
