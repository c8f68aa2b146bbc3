#!/usr/bin/env bash
# Draws each optimiser at its best swept learning rate (highest final test accuracy in an
# ember-train sweep.csv, diverged runs left out) as one horizontal bar, best first.
# Usage: scripts/plot_sweep_best.sh RUN/sweep.csv OUT.png ["title"]
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 SWEEP_CSV OUT_PNG [TITLE]" >&2
  exit 2
fi
csv=$1 png=$2 title=${3:-"Final test accuracy at each optimiser's best learning rate"}
[[ -r $csv ]] || { echo "error: cannot read $csv" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "error: gnuplot is not installed" >&2; exit 1; }
table=$(mktemp)
trap 'rm -f "$table"' EXIT
# sweep.csv: optimizer,lr,repeat,final_test_accuracy,best_test_accuracy,diverged (the
# optimizer field may hold commas inside quotes: count columns from the end).
awk -F, 'NR > 1 && $NF == 0 {
    name = $1; for (i = 2; i <= NF - 5; ++i) name = name "," $i; gsub(/"/, "", name)
    acc = $(NF - 2); lr = $(NF - 4)
    if (!(name in best) || acc > best[name]) { best[name] = acc; at[name] = lr }
  } END { for (n in best) printf "%s\t%s\t%.4f\n", n, at[n], best[n] }' "$csv" |
  sort -t$'\t' -k3,3g > "$table"
rows=$(wc -l < "$table")
[[ $rows -gt 0 ]] || { echo "error: no finished runs in $csv" >&2; exit 1; }
gnuplot <<GP
set terminal pngcairo size 900,$((120 + 28 * rows)) font ",11"
set output "$png"
set datafile separator "\t"
set title "$title"
set xlabel "final test accuracy"
set xrange [0:*]
set yrange [-0.7:$rows - 0.3]
set style fill solid 0.8 border -1
set grid xtics
unset key
set ytics nomirror
plot "$table" using (\$3 / 2):0:(\$3 / 2):(0.35):ytic(sprintf("%s (lr %s)", stringcolumn(1), stringcolumn(2))) \
       with boxxyerror lc rgb "#3b75af", \
     "" using (\$3):0:(sprintf(" %.3f", \$3)) with labels left
GP
echo "wrote $png ($rows optimisers)"
