#!/usr/bin/env bash
# Opens `albert explain --html` output in headless Chromium: the page must parse with every highlighted word in the
# browser's DOM, and its screenshot goes to docs/explain/ (the picture the README shows).
#
# Usage: scripts/explain_screenshot.sh [ALBERT] [OUT_DIR]
#   ALBERT   the albert binary (default target/release/albert; build it with cargo build --release -p albert-cli)
#   OUT_DIR  where sst2.html and sst2.png go (default docs/explain)
# Needs chromium (Debian: apt-get install -y chromium). Not run by CI.
set -euo pipefail
albert=${1:-target/release/albert}
out=${2:-docs/explain}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "no chromium found (apt-get install -y chromium)" >&2
    exit 1
fi
mkdir -p "$out"
texts=("A gripping, beautifully acted film that stays with you." "The plot is dull and the jokes fall flat." \
    "Not a bad movie at all, but the ending drags.")
"$albert" explain --words --overwrite --html "$out/sst2.html" "${texts[@]}" > /dev/null
page="file://$(realpath "$out/sst2.html")"
# Every highlighted word must be in the DOM Chromium built from the page.
marks=$(grep -o '<mark' "$out/sst2.html" | wc -l)
seen=$("$browser" --headless --no-sandbox --disable-gpu --dump-dom "$page" 2>/dev/null | grep -o '<mark' | wc -l)
if [ "$marks" -eq 0 ] || [ "$seen" -ne "$marks" ]; then
    echo "Chromium's DOM holds $seen highlighted words, the page $marks" >&2
    exit 1
fi
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size=1100,330 --screenshot="$out/sst2.png" "$page" 2>/dev/null
test -s "$out/sst2.png"
echo "$out/sst2.html opens in Chromium ($seen highlighted words); screenshot $out/sst2.png"
