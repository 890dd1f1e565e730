#!/usr/bin/env bash
# The one test command: runs the whole Bulwark suite on a fresh Debian 12 machine.
#
#   bash scripts/test.sh
#
# It installs what the suite needs (kcat and the Debian Kafka clients for Python, Debian's
# Prometheus and promtool, plus a C compiler for -race if Go found none), idempotently and without
# prompts, then runs, stopping at the first failure: gofmt, go vet, `opa test` of the shipped Rego
# policies, `promtool check/test rules` of the shipped alerting rules, unit and integration tests
# with -race, the end-to-end tests against real clients and a real Prometheus, and a short fuzz
# smoke of every fuzz target. The last line is "N passed, N failed",
# counting `go test` package runs (a failed gofmt or vet step counts as one failure).
#
# Environment:
#   BULWARK_FUZZTIME         seconds per fuzz target in the smoke (default 10)
#   BULWARK_FUZZ_BUDGET      seconds for the whole fuzz smoke; the per-target time shrinks to fit
#                            (default 180)
#   BULWARK_SKIP_INSTALL=1   do not touch system packages (a developer machine that has them)
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

fuzztime=${BULWARK_FUZZTIME:-10}
fuzztime=${fuzztime%s}
fuzzbudget=${BULWARK_FUZZ_BUDGET:-180}
fuzzbudget=${fuzzbudget%s}

logdir=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-test.XXXXXX")
gotest_log="$logdir/gotest.log"
: >"$gotest_log"
current_step="setup"
extra_failed=0
started=$SECONDS

section() {
	current_step="$1"
	printf '\n==== %s ====\n' "$1"
}

# summary counts package results from every `go test` run (lines "ok  <pkg>" and "FAIL <pkg>"),
# plus failing tests ("--- FAIL"), and always prints the final "N passed, N failed" line.
summary() {
	local rc=$?
	local passed failed tests_failed
	passed=$(grep -cE '^ok[[:space:]]' "$gotest_log" || true)
	failed=$(grep -cE '^FAIL[[:space:]]' "$gotest_log" || true)
	tests_failed=$(grep -cE '^[[:space:]]*--- FAIL' "$gotest_log" || true)
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
		# The failing step was not a go test package (gofmt, vet, install): count it.
		extra_failed=1
	fi
	failed=$((failed + extra_failed))
	printf '\n==== summary ====\n'
	if [ "$rc" -ne 0 ]; then
		printf 'FAILED in step: %s (exit %d)\n' "$current_step" "$rc"
		grep -E '^FAIL[[:space:]]|^[[:space:]]*--- FAIL' "$gotest_log" | sed 's/^/  /' || true
	fi
	if [ "$rc" -eq 0 ]; then
		rm -rf "$logdir"
		printf 'elapsed: %ds\n' "$((SECONDS - started))"
	else
		printf 'failing tests: %d; elapsed: %ds; go test output kept in %s\n' "$tests_failed" "$((SECONDS - started))" "$gotest_log"
	fi
	printf '%d passed, %d failed\n' "$passed" "$failed"
	exit "$rc"
}
trap summary EXIT

# gotest runs `go test` with its output shown and appended to the log that summary() counts.
gotest() {
	echo "+ go test $*"
	go test "$@" 2>&1 | tee -a "$gotest_log"
}

# fuzzone runs one fuzz target for $3 seconds. Go 1.26's fuzz coordinator can fail a target with
# a bare "context deadline exceeded" at the -fuzztime boundary although nothing was found (a race
# in internal/fuzz, golang/go#75804, fixed in Go 1.27). Such a run -- that message, no "Failing
# input written to" line, no panic -- is shown and retried once; anything else fails the step,
# and a second bare deadline fails it too.
fuzzone() {
	local dir=$1 name=$2 secs=$3 out attempt
	out=$(mktemp)
	for attempt in 1 2; do
		echo "+ go test -run ^\$ -fuzz ^${name}\$ -fuzztime ${secs}s $dir"
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" "$dir" >"$out" 2>&1; then
			tee -a "$gotest_log" <"$out"
			rm -f "$out"
			return 0
		fi
		if [ "$attempt" -eq 1 ] && grep -q 'context deadline exceeded' "$out" &&
			! grep -qE 'Failing input written to|panic:' "$out"; then
			cat "$out"
			echo "(Go fuzz coordinator deadline race, golang/go#75804: no input failed; retrying $name once)"
			continue
		fi
		tee -a "$gotest_log" <"$out"
		rm -f "$out"
		return 1
	done
}

# --- 0. system packages -------------------------------------------------------------------------
section "install system packages"
need=()
for pkg in kcat python3-kafka python3-confluent-kafka prometheus; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		need+=("$pkg")
	fi
done
# -race needs cgo, and Go disables cgo when it finds no C compiler.
if [ "$(go env CGO_ENABLED)" != "1" ] && ! command -v gcc >/dev/null 2>&1; then
	need+=(gcc libc6-dev)
fi
if [ "${BULWARK_SKIP_INSTALL:-}" = "1" ]; then
	echo "BULWARK_SKIP_INSTALL=1: not installing (missing: ${need[*]:-none})"
elif [ "${#need[@]}" -eq 0 ]; then
	echo "already installed: kcat python3-kafka python3-confluent-kafka prometheus"
else
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo -n)
		else
			echo "need root (or sudo) to install: ${need[*]}" >&2
			exit 1
		fi
	fi
	echo "installing: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q </dev/null
	"${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null
fi
if [ "$(go env CGO_ENABLED)" != "1" ]; then
	export CGO_ENABLED=1
fi
go version

# --- 1. gofmt -----------------------------------------------------------------------------------
section "gofmt"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked files plus untracked, not ignored ones: in CI's fresh clone that is the tracked set.
	mapfile -t gofiles < <(git ls-files -co --exclude-standard -- '*.go')
else
	mapfile -t gofiles < <(find . -name '*.go' -not -path './.git/*')
fi
existing=()
for f in "${gofiles[@]}"; do
	[ -f "$f" ] && existing+=("$f")
done
unformatted=""
if [ "${#existing[@]}" -gt 0 ]; then
	unformatted=$(gofmt -l "${existing[@]}")
fi
if [ -n "$unformatted" ]; then
	echo "gofmt -l lists files that need formatting (run gofmt -w):"
	echo "$unformatted"
	exit 1
fi
echo "gofmt: ${#existing[@]} files clean"

# --- 2. go vet ----------------------------------------------------------------------------------
section "go vet"
go vet ./...
echo "go vet: clean"

# --- 2b. the patched kmsg is exactly upstream plus scripts/patch-kmsg.sh ------------------------
section "third_party/kmsg matches its patch script"
bash scripts/patch-kmsg.sh --check

# --- 2c. the shipped Rego policies pass `opa test` ----------------------------------------------
section "opa test policies/"
# opa is a Go tool of the module (go.mod's tool line): built from the module proxy on first use,
# cached after. The tests that run a real `opa run --server` use the same binary.
OPA_BIN=$(go tool -n opa)
export OPA_BIN
opa_version=$("$OPA_BIN" version)
echo "${opa_version%%$'\n'*}"
if unformatted=$("$OPA_BIN" fmt --list policies/) && [ -n "$unformatted" ]; then
	echo "opa fmt --list lists files that need formatting (run opa fmt -w policies/):"
	echo "$unformatted"
	exit 1
fi
if opa_out=$("$OPA_BIN" test --fail-on-empty -v policies/ 2>&1); then
	echo "$opa_out"
	echo "ok  	policies (opa test: $(echo "$opa_out" | grep -oE 'PASS: [0-9]+/[0-9]+' | tail -1))" | tee -a "$gotest_log"
else
	echo "$opa_out"
	echo "FAIL	policies (opa test)" | tee -a "$gotest_log"
	exit 1
fi

# --- 2d. the shipped Prometheus alerting rules -------------------------------------------------
section "promtool check rules / test rules (monitoring/prometheus)"
promtool check rules monitoring/prometheus/bulwark-rules.yml
if (cd monitoring/prometheus && promtool test rules bulwark-rules_test.yml); then
	echo "ok  	monitoring/prometheus (promtool test rules)" | tee -a "$gotest_log"
else
	echo "FAIL	monitoring/prometheus (promtool test rules)" | tee -a "$gotest_log"
	exit 1
fi

# --- 3. unit and integration tests --------------------------------------------------------------
section "go test -race (unit + integration, fuzz seeds)"
# The end-to-end package skips itself here; it runs on its own in the next step.
BULWARK_E2E="" gotest -race -count=1 ./...

# Scale tests (10,000 partitions under a lowered open-file limit) build only without -race.
section "go test (scale, without -race)"
gotest -count=1 -run '^TestTenThousandPartitions' ./broker

# --- 4. end-to-end tests with real clients -------------------------------------------------------
section "end-to-end tests (kcat, kafka-python, confluent-kafka, Prometheus, crash, drain)"
BULWARK_E2E=1 gotest -count=1 -timeout 15m -run . ./e2e/...

# --- 5. fuzz smoke ------------------------------------------------------------------------------
section "fuzz smoke"
mapfile -t targets < <(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . |
	grep -v '^./\.git/' | sed -E 's#^(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*)$#\1 \2#' | sort -u)
if [ "${#targets[@]}" -eq 0 ]; then
	echo "no fuzz targets found"
else
	per=$fuzztime
	if [ $((per * ${#targets[@]})) -gt "$fuzzbudget" ]; then
		per=$((fuzzbudget / ${#targets[@]}))
		[ "$per" -lt 1 ] && per=1
		echo "${#targets[@]} targets: ${per}s each to stay within ${fuzzbudget}s"
	else
		echo "${#targets[@]} targets: ${per}s each"
	fi
	for t in "${targets[@]}"; do
		fuzzone "${t% *}" "${t#* }" "$per"
	done
fi

current_step="done"
echo
echo "all steps passed"
