#!/usr/bin/env bash
# Regenerates third_party/kmsg: franz-go's kmsg at the version pinned below with one patch that
# bounds every tagged-field loop by the input that is left (see third_party/kmsg/PATCHED.md and
# docs/THREAT_MODEL.md, "Request decoding").
#
#   bash scripts/patch-kmsg.sh          rewrite third_party/kmsg from the pinned upstream version
#   bash scripts/patch-kmsg.sh --check  fail if third_party/kmsg differs from what it would write
#
# The patch is applied with exact textual substitutions and each one's count is checked, so a new
# upstream version whose generated code changed shape fails here instead of going half-patched.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v1.15.0
module=github.com/twmb/franz-go/pkg/kmsg
dest=third_party/kmsg

src=$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "patch-kmsg: cannot download $module@$version" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/kmsg"
mkdir -p "$out"
cp -R "$src"/. "$out"/
chmod -R u+w "$out"

# replace FILE COUNT OLD NEW: substitute a literal line fragment exactly COUNT times.
replace() {
	local file=$1 want=$2 old=$3 new=$4 got
	got=$(OLD="$old" perl -0ne 'my $n = () = /\Q$ENV{OLD}\E/g; print $n' "$file")
	if [ "$got" != "$want" ]; then
		echo "patch-kmsg: expected $want occurrences of '$old' in $file, found $got" >&2
		exit 1
	fi
	OLD="$old" NEW="$new" perl -0pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/g' "$file"
}

# 1. kbin gains TagCount: a tag count the remaining input cannot hold (each field takes at least
#    two bytes, its tag and its size) marks the reader bad and reads as zero.
cat >>"$out/internal/kbin/primitives.go" <<'GO'

// TagCount reads the count of a tagged-field section. Every tagged field takes at least two
// bytes (its tag and its size), so a count the remaining input cannot hold marks the reader as
// failed and returns 0 instead of letting the caller loop on it. (Bulwark patch.)
func (b *Reader) TagCount() uint32 {
	n := b.Uvarint()
	if uint64(n)*2 > uint64(len(b.Src)) {
		b.bad = true
		b.Src = nil
		return 0
	}
	return n
}
GO

# 2. Every generated tagged-field loop reads its count with TagCount and stops once the reader
#    has failed, so a section costs at most one iteration per remaining byte.
replace "$out/generated.go" 19 \
	'for i := b.Uvarint(); i > 0; i-- {' \
	'for i := b.TagCount(); i > 0 && b.Ok(); i-- {'

# 3. The shared tag readers in api.go get the same bound.
replace "$out/api.go" 1 \
	'func internalReadTags(b *kbin.Reader) Tags {
	var t Tags
	for num := b.Uvarint(); num > 0; num-- {' \
	'func internalReadTags(b *kbin.Reader) Tags {
	var t Tags
	for num := b.TagCount(); num > 0 && b.Ok(); num-- {'
replace "$out/api.go" 2 \
	'for num := b.Uvarint(); num > 0; num-- {' \
	'for num := b.Uvarint(); num > 0 && tagReaderOk(b); num-- {'
cat >>"$out/api.go" <<'GO'

// tagReaderOk reports whether a TagReader that can tell (kbin.Reader can) has not failed, so the
// exported tag skippers stop once the input has run out. (Bulwark patch.)
func tagReaderOk(b TagReader) bool {
	if o, ok := b.(interface{ Ok() bool }); ok {
		return o.Ok()
	}
	return true
}
GO

cat >"$out/PATCHED.md" <<MD
# kmsg $version, patched by Bulwark

This is \`$module@$version\` with one patch, written by \`scripts/patch-kmsg.sh\` (never edit by
hand: change the script and run it). \`go.mod\` points the module here with a \`replace\`.

## Why

kmsg decodes a tagged-field section (KIP-482) with \`for i := b.Uvarint(); i > 0; i--\`. When the
input runs out, \`Uvarint\` returns 0 and the loop goes on, once per claimed tag: five bytes
claiming 2^32-1 tags cost about a minute of CPU, in every flexible request, before or after
authentication. Arrays were already bounded (\`ArrayLen\` refuses a count larger than the bytes
left); tag sections were not.

## The patch

- \`internal/kbin\`: \`Reader.TagCount\` reads a section's count and fails the reader when the
  remaining input cannot hold that many fields (each takes at least two bytes).
- \`generated.go\`: all 19 inline tag loops read their count with \`TagCount\` and stop as soon as
  the reader has failed.
- \`api.go\`: \`internalReadTags\` (used by the other 519 tag sections) does the same; the exported
  \`ReadTags\` and \`SkipTags\` stop once a reader that can report failure has failed.

After it, decoding any request costs at most a constant amount of work per input byte.

## Upstream

The report filed for franz-go is in docs/upstream/kmsg-tag-loop.md. Drop this directory and the
\`replace\` once an upstream release bounds tag loops itself.
MD

if [ "${1:-}" = "--check" ]; then
	if ! diff -r "$out" "$dest" >"$work/diff"; then
		head -40 "$work/diff" >&2
		echo "patch-kmsg: $dest differs from scripts/patch-kmsg.sh's output; run bash scripts/patch-kmsg.sh" >&2
		exit 1
	fi
	echo "patch-kmsg: $dest matches $module@$version plus the patch"
	exit 0
fi
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
cp -R "$out" "$dest"
echo "patch-kmsg: wrote $dest from $module@$version"
