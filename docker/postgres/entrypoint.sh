#!/bin/sh
# The PostgreSQL of docker-compose.yml's "postgres" profile (image ctharness-postgres:dev, made by
# `make images-postgres` from Debian's postgresql). A new volume gets its cluster first: the role "relay" with
# $POSTGRES_PASSWORD (scram-sha-256, from any address of the compose network), a database "relay", data checksums,
# and the settings the relay's durability relies on (fsync, synchronous_commit, full_page_writes) at their defaults.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo "POSTGRES_PASSWORD is not set: the relay role needs a password" >&2
		exit 1
	fi
	printf '%s\n' "$POSTGRES_PASSWORD" | initdb -D "$PGDATA" -U relay --pwfile=/dev/stdin --auth-local=trust \
		--auth-host=scram-sha-256 --locale=C --encoding=UTF8 --data-checksums >/dev/null
	printf "listen_addresses = '*'\nunix_socket_directories = '/tmp'\n" >>"$PGDATA/postgresql.conf"
	printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
	echo 'CREATE DATABASE relay' | postgres --single -D "$PGDATA" postgres >/dev/null
fi
exec postgres -D "$PGDATA"
