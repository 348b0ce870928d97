# An app layer: the published app in /app, run as the non-root app user.
FROM {{parent}}
WORKDIR /app
COPY app/ /app/
USER 1654
ENTRYPOINT {{entrypoint}}
