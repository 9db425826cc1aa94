# Shared by postgres/start and postgres/stop (sourced): where the private cluster lives and how to run its
# binaries. initdb refuses to run as root, so as root every server binary runs as the `postgres` system user,
# and the cluster folder belongs to it.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
state="${SIGNERS_PG_STATE:-$root/.state/postgres}"
data="$state/data"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
