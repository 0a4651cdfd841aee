#!/usr/bin/env bash
# A stand-in for the osiris binary, for trying the harness before cmd/osiris
# exists: `go run ./bench/harness -osiris bench/harness/testdata/fake-osiris.sh`.
# It does each workload's work with the mysql/psql clients (so the harness's
# row checks pass) and prints a run --json summary. Its figures mean nothing.
set -euo pipefail
ws=.
if [[ "${1:-}" == -C ]]; then ws=$2; shift 2; fi
cmd=${1:-}; shift || true
file=
for a in "$@"; do case $a in -*) ;; *) file=$a ;; esac; done
cd "$ws"
case $cmd in
version) echo "fake-osiris 0.0.0 (bench/harness/testdata)"; exit 0 ;;
compile) mkdir -p build/pipelines; cp "$file" build/pipelines/; exit 0 ;;
run) ;;
*) echo "fake-osiris: unknown command $cmd" >&2; exit 2 ;;
esac
my="mysql -h127.0.0.1 -uroot --quick --batch --raw --skip-column-names bench"
pg="psql -X -q -h127.0.0.1 -Upostgres -d osiris_bench -v ON_ERROR_STOP=1"
query=$(sed -n 's/^ *query: "\(SELECT m\..*\)"$/\1/p' "$file" | head -1)
case $file in
*w1_extract.yaml) rows=$($my -e "$query" | wc -l) ;;
*w2_copy.yaml)
  $pg -c "DROP TABLE IF EXISTS movies_w2; CREATE TABLE movies_w2 (movie_id BIGINT PRIMARY KEY, title TEXT, release_year INT, director_id INT, genre TEXT, runtime_minutes INT, budget_usd NUMERIC(14,2), box_office_usd NUMERIC(14,2), created_at TIMESTAMP)"
  $my -e "SELECT * FROM movies" | sed 's/\tNULL\t/\t\\N\t/g' | $pg -c '\copy movies_w2 from pstdin'
  rows=$($pg -At -c "SELECT COUNT(*) FROM movies_w2") ;;
*w3_seed.yaml)
  $pg -c "DROP TABLE IF EXISTS director_stats_w3; CREATE TABLE director_stats_w3 (director_name TEXT PRIMARY KEY, movies BIGINT, box_office NUMERIC)"
  $my -e "SELECT d.name, COUNT(*), SUM(box_office_usd) FROM movies m JOIN directors d ON m.director_id = d.director_id GROUP BY d.name" |
    sed 's/\tNULL$/\t\\N/' | $pg -c '\copy director_stats_w3 from pstdin'
  rows=$($pg -At -c "SELECT COUNT(*) FROM director_stats_w3") ;;
*w4_csv.yaml)
  mkdir -p out
  awk -F, 'NR == 1 { print "genre,release_year,movies" } NR > 1 { n[$5 "," $3]++ } END { for (g in n) print g "," n[g] }' data/movies.csv > out/w4_by_genre_year.csv
  rows=$(($(wc -l < out/w4_by_genre_year.csv) - 1)) ;;
*) echo "fake-osiris: no fake for $file" >&2; exit 1 ;;
esac
echo '{"run_dir":"run_logs/fake","status":"succeeded","duration_ms":1,"rows":'"$rows"'}'
