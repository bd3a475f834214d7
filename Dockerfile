# digitbot: the Telegram bot that reads handwritten digits, as a small self-hosted image.
#
#   docker compose up -d          (reads TELEGRAM_BOT_TOKEN etc. from .env; see README)
#
# Two stages from the same Debian base: the builder installs the project and only its
# run-time dependencies into a virtual environment in /opt/venv; the runtime stage copies
# that environment and adds nothing but the Python interpreter and CA certificates.
# No secret is baked in: the token and admin ids come from the environment at run time.

FROM debian:bookworm-slim AS builder

# Debian stable only ever ships security fixes, and superseded versions leave the mirror,
# so exact apt pins would break the build at the next security update (hadolint DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

# A CA bundle for pip, for builds behind a TLS-inspecting proxy. Being an ARG it is seen by
# this stage's RUN steps only (pip reads PIP_CERT) and never reaches the final image's ENV.
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python3 -m venv /opt/venv
WORKDIR /src

# Dependencies first, read from pyproject.toml alone, so that editing the code does not
# download TensorFlow again: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && /opt/venv/bin/pip install --requirement /tmp/requirements.txt

# Then the project itself (no test extras), and a check that every requirement is met.
COPY README.md LICENSE ./
COPY bot ./bot
COPY recognizer ./recognizer
COPY training ./training
COPY models ./models
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip check


FROM debian:bookworm-slim

# python3 runs the virtual environment (its interpreter is a link to /usr/bin/python3);
# ca-certificates lets the bot verify api.telegram.org with the system's trust store.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ca-certificates \
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

# The bot stops on SIGTERM after finishing the replies under way (compose allows 30 s).
CMD ["digitbot", "run"]
