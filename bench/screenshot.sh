#!/bin/sh
# Renders the HTML dashboard of a small demo batch and takes a screenshot
# of it with headless Chromium (for the README).
#
#   bench/screenshot.sh [OUT.png]    (default: docs/images/review.png)
#
# The batch: six tasks run by a shell worker with two gates (one scores the
# work, one flags a security finding), one task escalated with a question
# (answered), one failing, one approved. GIT_BATCH (default: `git-batch`
# on PATH, else target/release or target/debug) is the binary used;
# CHROMIUM the browser (default: chromium, chromium-browser or
# google-chrome, whichever is installed). Without a browser the page is
# written next to OUT instead and the script says so (exit 0).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/docs/images/review.png}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac

bin=${GIT_BATCH:-}
if [ -z "$bin" ]; then
  for b in "${CARGO_TARGET_DIR:-$here/target}/release/git-batch" \
           "${CARGO_TARGET_DIR:-$here/target}/debug/git-batch" \
           "$(command -v git-batch || true)"; do
    if [ -n "$b" ] && [ -x "$b" ]; then bin=$b; break; fi
  done
fi
[ -n "$bin" ] || { echo "no git-batch binary: cargo build first, or set GIT_BATCH" >&2; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

work=$(mktemp -d "${TMPDIR:-/tmp}/git-batch-shot.XXXXXX")
trap 'rm -rf "$work"' EXIT
# git-batch on PATH for its hooks and the worker; a fixed identity.
mkdir -p "$work/bin" "$work/home"
ln -s "$bin" "$work/bin/git-batch"
export PATH="$work/bin:$PATH" HOME="$work/home" GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=Demo GIT_AUTHOR_EMAIL=demo@example.com
export GIT_COMMITTER_NAME=Demo GIT_COMMITTER_EMAIL=demo@example.com NO_COLOR=1

repo=$work/repo
mkdir -p "$repo" && cd "$repo"
git init -q -b main && git commit -q --allow-empty -m "start"
git batch init --prefix app -q
ids=""
new() { id=$(git batch create "$1" --scope "$2/**" -p "$3" ${4:+--body "$4"}); ids="$ids $id"; echo "$id"; }
new "Port the parser to the new tokenizer" parser 1 >/dev/null
new "Move logging to tracing in net" net 2 >/dev/null
new "Rename the config loader" config 2 >/dev/null
new "Rotate the API signing key" keys 0 >/dev/null
new "Choose the licence header for vendored files" vendor 1 >/dev/null
new "Migrate the cache to SQLite" cache 1 >/dev/null
git batch plan nightly $ids -q >/dev/null 2>&1

cat > "$work/worker.sh" <<'WORKER'
d=$(sed -n 's/^- `\([a-z]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
mkdir -p "$d"
case $d in
  vendor)
    git batch receipt "vendored files have no licence header"
    git batch escalate --reason "MIT or Apache-2.0 header for vendor/?"
    exit 0 ;;
  cache)
    echo "migrating the cache: schema v3 has no 'ttl' column" >&2
    echo "error: cannot convert row 17" >&2
    exit 1 ;;
esac
for i in 1 2 3; do echo "line $i of $d, attempt $BATCH_ATTEMPT" >> "$d/mod.rs"; done
git batch receipt --count processed --item "$d/mod.rs" "ported $d/mod.rs"
git batch receipt --field processed=3 --field skip=1 "checkpoint: 3 processed, 1 skipped"
sleep 1
WORKER
cat > "$work/score.sh" <<'GATE'
n=$(cat */mod.rs 2>/dev/null | wc -l)
case $(ls -d */ | head -n 1) in parser/) s=92 ;; net/) s=78 ;; config/) s=85 ;; *) s=64 ;; esac
echo "checked $n line(s)"
echo "{\"score\": $s, \"lines\": $n}"
GATE
cat > "$work/secrets.sh" <<'GATE'
if [ -d keys ]; then echo "keys/mod.rs: looks like a private key"; echo '{"security": 1}'; exit 1; fi
echo '{"security": 0}'
GATE

git batch run --plan nightly -j 3 --retries 0 --exec "sh $work/worker.sh" \
  --gate "score=sh $work/score.sh" --gate "secrets=sh $work/secrets.sh" -q >/dev/null 2>&1 || true
esc=$(git batch --json list --status escalated | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -n 1)
[ -z "$esc" ] || git batch answer "$esc" "Apache-2.0, as the rest of the repository" -q >/dev/null 2>&1
first=$(echo $ids | cut -d' ' -f1)
git batch approve "$first" -q >/dev/null 2>&1

page=$work/review.html
git batch review --plan nightly --html "$page" -q >/dev/null
mkdir -p "$(dirname "$out")"

browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
  done
fi
if [ -z "$browser" ]; then
  cp "$page" "${out%.png}.html"
  echo "no headless Chromium installed: no screenshot taken; the page is at ${out%.png}.html"
  exit 0
fi
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/chrome" \
  --window-size=1280,1500 --screenshot="$out" "file://$page" >/dev/null 2>&1
echo "wrote $out ($(wc -c < "$out") bytes)"
