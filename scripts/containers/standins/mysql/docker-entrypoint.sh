#!/bin/bash
# The official mysql image's entrypoint, for MariaDB: on an empty data
# directory, initialise it and create what these variables ask for, then run
# the server in the foreground. Honours MYSQL_ROOT_PASSWORD,
# MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_DATABASE,
# MYSQL_USER and MYSQL_PASSWORD as the official image does.
set -euo pipefail

datadir=/var/lib/mysql
socket=/run/mysqld/init.sock

log() { echo "$(date -u +%FT%TZ) [Entrypoint]: $*"; }
die() { echo "$(date -u +%FT%TZ) [ERROR] [Entrypoint]: $*" >&2; exit 1; }

# A value inside a single-quoted SQL string.
sql_quote() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\\\'}"; }

init_database() {
  if [[ -z "${MYSQL_ROOT_PASSWORD:-}${MYSQL_ALLOW_EMPTY_PASSWORD:-}${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]]; then
    die "Database is uninitialized and password option is not specified
    You need to specify one of the following as an environment variable:
    - MYSQL_ROOT_PASSWORD
    - MYSQL_ALLOW_EMPTY_PASSWORD
    - MYSQL_RANDOM_ROOT_PASSWORD"
  fi
  if [[ "${MYSQL_USER:-}" == root ]]; then
    die 'MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user'
  fi
  log "Initializing database files"
  mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >/dev/null
  log "Starting temporary server"
  "$@" --skip-networking --socket="$socket" &
  local pid=$! i
  local client=(mariadb --protocol=socket --socket="$socket" -uroot)
  for i in $(seq 60); do
    "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || die "the temporary server did not start"
    [[ $i -lt 60 ]] || die "the temporary server did not answer within 30 s"
    sleep 0.5
  done

  local root_password=${MYSQL_ROOT_PASSWORD:-}
  if [[ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]]; then
    root_password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
    log "GENERATED ROOT PASSWORD: $root_password"
  fi
  # mariadb-install-db also makes root@127.0.0.1, root@::1 and root@<host>
  # without a password, and maybe anonymous users: the official image has
  # only root@localhost and root@%.
  local host sql
  host="$(hostname)"
  sql="DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'$host', ''@'localhost', ''@'$host';
    ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_quote "$root_password");
    CREATE USER 'root'@'%' IDENTIFIED BY $(sql_quote "$root_password");
    GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
  if [[ -n "${MYSQL_DATABASE:-}" ]]; then
    log "Creating database ${MYSQL_DATABASE}"
    sql+="CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE//\`/\`\`}\`;"
  fi
  if [[ -n "${MYSQL_USER:-}" && -n "${MYSQL_PASSWORD:-}" ]]; then
    log "Creating user ${MYSQL_USER}"
    sql+="CREATE USER $(sql_quote "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_quote "$MYSQL_PASSWORD");"
    if [[ -n "${MYSQL_DATABASE:-}" ]]; then
      log "Giving user ${MYSQL_USER} access to schema ${MYSQL_DATABASE}"
      sql+="GRANT ALL ON \`${MYSQL_DATABASE//\`/\`\`}\`.* TO $(sql_quote "$MYSQL_USER")@'%';"
    fi
  fi
  "${client[@]}" -e "$sql FLUSH PRIVILEGES;"

  log "Stopping temporary server"
  kill "$pid"
  wait "$pid" || true
  log "MySQL init process done. Ready for start up."
}

# Options alone are passed to the server, as upstream.
if [[ "${1:0:1}" == - ]]; then
  set -- mysqld "$@"
fi
if [[ "$1" == mysqld || "$1" == mariadbd ]]; then
  shift
  set -- mariadbd "$@"
  if [[ "$(id -u)" == 0 ]]; then
    # As upstream: started as root, the data belongs to mysql and so does the server.
    chown -R mysql:mysql "$datadir"
    exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
  fi
  if [[ ! -d "$datadir/mysql" ]]; then
    init_database "$@"
  fi
fi
exec "$@"
