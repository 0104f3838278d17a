# tools/bench/lib_runlog.sh — reads the figures out of a `lensweep run` log (sourced by
# bench_run.sh and bench_tp.sh; the ranks run under `/usr/bin/time -f "rank-peak-rss %M KB"`).
# Each function prints one table cell, or nothing when the log lacks the line.
runlog_pass() { # "0.801 s (forward 0.140, lens 0.698)"
  sed -n 's/.*passes in [0-9.]* s (\([0-9.]*\) s per pass: forward \([0-9.]*\) s, lens decode + HDF5 \([0-9.]*\) s.*/\1 s (forward \2, lens \3)/p' "$1"
}
runlog_rss() { # per-rank peak RSS in MiB, "405/429"
  sed -n 's/rank-peak-rss \([0-9]*\) KB/\1/p' "$1" | awk '{printf "%s%.0f", (NR > 1 ? "/" : ""), $1 / 1024}'
}
runlog_sent() { # "6.6 KB lens, 114.5 KB incl. forward" (R > 1 only)
  sed -n 's/.*rank 0 sent \([0-9.]*\) KB per layer per pass for the lens statistics (\([0-9.]*\) KB incl. forward).*/\1 KB lens, \2 KB incl. forward/p' "$1"
}
