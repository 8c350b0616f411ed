# Private Redis and PostgreSQL servers for the test run, on loopback ports, stopped on exit.
# Tests read REDIS_URL and VMFARM_TEST_PG_URL; they never touch a server they did not get this way.

free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

start_redis() {
  local dir="$1" port
  port="$(free_port)"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$port"
  log "redis-server on $REDIS_URL"
}

stop_redis() { local dir="$1"; [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# PostgreSQL refuses to run as root, so the cluster belongs to the postgres user when we are root.
start_postgres() {
  local dir="$1/pg" port bin as=()
  port="$(free_port)"
  bin="$(pg_bin)"
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; as=(runuser -u postgres --); fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  export VMFARM_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  log "postgres on $VMFARM_TEST_PG_URL"
}

stop_postgres() {
  local dir="$1/pg" as=()
  [ -d "$dir/data" ] || return 0
  if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi
  "${as[@]}" "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}
