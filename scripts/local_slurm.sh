#!/usr/bin/env bash
# A real single-node SLURM on this machine, for the tests and for trying the slurm profile:
#   bash scripts/local_slurm.sh start    # install slurm-wlm + munge if missing, start the daemons
#   bash scripts/local_slurm.sh status   # sinfo
#   bash scripts/local_slurm.sh stop     # stop the daemons by their PIDs
# Needs root (Debian's packages; daemons started directly, no systemd). The node offers this
# machine's CPUs and most of its memory in one partition, `debug`.
# State, pid files and daemon logs live in $ATTNVIZ_SLURM_DIR (default /tmp/attnviz-slurm).
#
# Two traps this works around (see README, "SLURM"):
# - the executor plugin's job step drops SLURM_CONF before its inner srun, so the config must
#   also be at /etc/slurm/slurm.conf (we only write there if that file is absent or ours);
# - without an accounting database `sacct` cannot answer, so the profile queries `squeue`, and
#   MinJobAge keeps finished jobs visible to it for 10 minutes.
set -euo pipefail

DIR="${ATTNVIZ_SLURM_DIR:-/tmp/attnviz-slurm}"
CONF="$DIR/slurm.conf"
SYSTEM_CONF=/etc/slurm/slurm.conf
MARK="# written by attnviz scripts/local_slurm.sh"
MUNGE_PID=/run/munge/munged.pid

die() {
	echo "local_slurm: $*" >&2
	exit 1
}

install_packages() {
	command -v slurmctld >/dev/null && command -v munged >/dev/null && return
	command -v apt-get >/dev/null || die "slurmctld/munged missing and no apt-get; install slurm-wlm and munge"
	echo "local_slurm: installing slurm-wlm and munge"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >"$DIR/apt.log" 2>&1 ||
		die "apt-get install slurm-wlm munge failed; see $DIR/apt.log"
}

write_conf() {
	local host cpus mem_mb
	host="$(hostname -s)"
	cpus="$(nproc)"
	mem_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 3 / 4))
	cat >"$CONF" <<EOF
$MARK
ClusterName=attnviz
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
MinJobAge=600
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
	if [[ -e $SYSTEM_CONF ]] && ! grep -qF "$MARK" "$SYSTEM_CONF"; then
		die "$SYSTEM_CONF exists and is not ours; this machine has a SLURM already, use it"
	fi
	mkdir -p "$(dirname "$SYSTEM_CONF")"
	cp "$CONF" "$SYSTEM_CONF"
}

running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
	[[ $(id -u) -eq 0 ]] || die "start needs root (it installs packages and runs the daemons)"
	mkdir -p "$DIR/state" "$DIR/spool"
	install_packages
	running "$DIR/slurmctld.pid" && die "already running (pid $(cat "$DIR/slurmctld.pid")); stop it first"
	write_conf
	mkdir -p /run/munge
	chown munge:munge /run/munge
	if ! running "$MUNGE_PID"; then
		runuser -u munge -- munged
		touch "$DIR/munged.ours" # stop ends only the munged we started
	fi
	export SLURM_CONF="$CONF"
	slurmctld -f "$CONF"
	slurmd -f "$CONF" -N localhost
	for _ in $(seq 1 60); do
		if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
			echo "local_slurm: up (partition debug, $(nproc) CPUs); logs in $DIR"
			return
		fi
		sleep 0.5
	done
	stop
	die "the node did not become idle in 30 s; see $DIR/slurmctld.log and $DIR/slurmd.log"
}

stop_pid() {
	local file=$1
	running "$file" || return 0
	local pid
	pid="$(cat "$file")"
	kill "$pid"
	for _ in $(seq 1 40); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.25
	done
	kill -9 "$pid" 2>/dev/null || true
}

stop() {
	stop_pid "$DIR/slurmd.pid"
	stop_pid "$DIR/slurmctld.pid"
	if [[ -e "$DIR/munged.ours" ]]; then
		stop_pid "$MUNGE_PID"
		rm -f "$DIR/munged.ours"
	fi
	if [[ -e $SYSTEM_CONF ]] && grep -qF "$MARK" "$SYSTEM_CONF"; then
		rm -f "$SYSTEM_CONF"
	fi
	rm -rf "$DIR/state" "$DIR/spool"
	echo "local_slurm: stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) SLURM_CONF="$CONF" sinfo ;;
*) die "usage: bash scripts/local_slurm.sh start|status|stop" ;;
esac
