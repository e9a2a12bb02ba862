#!/usr/bin/env bash
# timed.sh STAGE CMD...      run CMD; when it succeeds record its wall time
# timed.sh --mark STAGE FILE record how long after the make run started FILE was made
#
# Each pipeline stage of `make reproduce-all` runs through this wrapper, which writes
# $MECHDRIFT_TIMING_DIR/STAGE.json (default results/timing/): one file per stage, written
# to a temporary name and renamed, so stages running side by side under make -j2 never
# write the same file. paper/make_report.py turns these records into the report's
# stage-time table and the total reproduce-all time.
#
# MECHDRIFT_RUN (exported by the makefile: the epoch seconds at which that make started)
# ties the records of one make invocation together; the total time of a run is its last
# record's end minus MECHDRIFT_RUN. MECHDRIFT_TIMING_TAG (set by the slurm array tasks,
# e.g. seed3) is appended to the stage name so tasks of one experiment keep apart.
# A failed command records nothing and passes its exit status through.
set -uo pipefail

now() { date +%s.%N; }
json_escape() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/ }; printf '%s' "${s//$'\n'/ }"; }

mark=0
if [ "${1:-}" = --mark ]; then mark=1; shift; fi
if [ $# -lt 2 ]; then
  echo "usage: timed.sh STAGE CMD... | timed.sh --mark STAGE FILE" >&2
  exit 2
fi
stage=$1; shift
case "$stage" in */*|"") echo "timed.sh: stage name '$stage' must be a plain name" >&2; exit 2;; esac
dir=${MECHDRIFT_TIMING_DIR:-results/timing}
name=$stage${MECHDRIFT_TIMING_TAG:+@$MECHDRIFT_TIMING_TAG}

start=$(now)
run=${MECHDRIFT_RUN:-$start}
if [ $mark = 1 ]; then
  # A stage made by make's own rules (the build): its time is how long after the run
  # began its output appeared; an output older than the run was made before it.
  file=$1
  [ -e "$file" ] || { echo "timed.sh: --mark $stage: no file $file" >&2; exit 1; }
  made=$(stat -c %.9Y "$file")
  if awk -v m="$made" -v r="$run" 'BEGIN{exit !(m >= r)}'; then
    seconds=$(awk -v m="$made" -v r="$run" 'BEGIN{printf "%.3f", m - r}')
    note="made by this run (time from the start of make)"
  else
    seconds=null
    note="already up to date when this run started"
  fi
  start=$run; end=$made; status=0; cmd="mark $file"
else
  "$@"
  status=$?
  end=$(now)
  [ $status = 0 ] || exit $status
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b - a}')
  note=""
  cmd="$*"
fi

mkdir -p "$dir" || exit 1
tmp="$dir/.$name.json.tmp.$$"
printf '{"stage": "%s", "seconds": %s, "start": %s, "end": %s, "run": %s, "threads": "%s", "host": "%s", "note": "%s", "command": "%s"}\n' \
  "$(json_escape "$name")" "$seconds" "$start" "$end" "$run" "${OMP_NUM_THREADS:-}" \
  "$(json_escape "$(hostname 2>/dev/null || echo unknown)")" "$note" "$(json_escape "$cmd")" > "$tmp" \
  && mv -f "$tmp" "$dir/$name.json" || { rm -f "$tmp"; exit 1; }
exit 0
