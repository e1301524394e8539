#!/bin/sh
# Run redis-server in the foreground as the redis user, in /data; without a configuration file, listen on
# every address of the container with protected mode off, as the official image does.
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  chown -R redis:redis /data
  case "${1:-}" in
    *.conf) exec runuser -u redis -- redis-server "$@" ;;
    *) exec runuser -u redis -- redis-server --bind 0.0.0.0 --protected-mode no --dir /data "$@" ;;
  esac
fi
exec "$@"
