#!/bin/sh
# The official redis image's entrypoint, for Debian's redis-server.
set -eu

# Options or a config file alone are passed to redis-server, as upstream.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# Without a config file saying otherwise, protected mode would refuse every
# client that is not on the loopback: in a container, all of them.
if [ "$1" = redis-server ]; then
  protected=yes
  if [ -f "${2:-}" ] && grep -q '^protected-mode' "$2"; then
    protected=
  fi
  if [ -n "$protected" ]; then
    shift
    if [ -f "${1:-}" ]; then
      config=$1
      shift
      set -- redis-server "$config" --protected-mode no "$@"
    else
      set -- redis-server --protected-mode no "$@"
    fi
  fi
fi

umask 0077
exec "$@"
