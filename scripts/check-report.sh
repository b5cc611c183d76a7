#!/bin/sh
# Check that a cbmc report.html shows every figure in headless Chromium.
#
#   scripts/check-report.sh OUT/RUN-plots/report.html [SCREENSHOT.png]
#
# Loads a copy of the report (with a few lines of JavaScript added that count
# the <img> elements that loaded) from the report's own folder, as a browser
# opening the file would, dumps the DOM and checks the count. Exit 0: every
# image loaded; 1: some did not (their names are printed); 2: usage, or no
# Chromium (install it with `apt-get install -y chromium`).
set -eu

report=${1:-}
shot=${2:-}
if [ -z "$report" ] || [ ! -f "$report" ]; then
    echo "usage: $0 REPORT.html [SCREENSHOT.png]" >&2
    exit 2
fi
chromium=${CHROMIUM:-}
if [ -z "$chromium" ]; then
    for c in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
        if [ -x "$c" ]; then chromium=$c; break; fi
    done
fi
if [ -z "$chromium" ]; then
    echo "no Chromium found (apt-get install -y chromium)" >&2
    exit 2
fi

dir=$(cd "$(dirname "$report")" && pwd)
probe="$dir/.check-report-$$.html"
profile=$(mktemp -d)
trap 'rm -rf "$probe" "$profile"' EXIT INT TERM

# The probe: the report with a script that records, once the page has
# loaded, how many images there are and which failed to decode.
sed 's#</body>#<script>\
window.addEventListener("load", function () {\
  var imgs = Array.prototype.slice.call(document.images), bad = [], sizes = [];\
  imgs.forEach(function (i) {\
    if (!(i.complete \&\& i.naturalWidth > 0 \&\& i.naturalHeight > 0)) bad.push(i.getAttribute("src"));\
    sizes.push(i.getAttribute("src") + "=" + i.naturalWidth + "x" + i.naturalHeight);\
  });\
  var p = document.createElement("pre");\
  p.id = "cbmc-check";\
  p.textContent = "CBMC-" + "RESULT images=" + imgs.length + " loaded=" + (imgs.length - bad.length) +\
    " bad=[" + bad.join(" ") + "] sizes=[" + sizes.join(" ") + "]";\
  document.body.appendChild(p);\
});\
</script></body>#' "$report" > "$probe"

flags="--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
--user-data-dir=$profile --virtual-time-budget=15000"
# shellcheck disable=SC2086
dom=$(timeout 120 "$chromium" $flags --dump-dom "file://$probe" 2>/dev/null || true)
line=$(printf '%s\n' "$dom" | grep -o 'CBMC-RESULT[^<]*' | head -n 1 || true)
if [ -z "$line" ]; then
    echo "Chromium did not render $report (no result from the page)" >&2
    exit 1
fi
echo "$line"
if [ -n "$shot" ]; then
    # shellcheck disable=SC2086
    timeout 120 "$chromium" $flags --hide-scrollbars --window-size=1300,2400 \
        --screenshot="$shot" "file://$dir/$(basename "$report")" >/dev/null 2>&1 || true
fi
images=$(printf '%s\n' "$line" | sed -n 's/.*images=\([0-9]*\).*/\1/p')
loaded=$(printf '%s\n' "$line" | sed -n 's/.*loaded=\([0-9]*\).*/\1/p')
if [ "${images:-0}" -eq 0 ]; then
    echo "the report has no figures" >&2
    exit 1
fi
if [ "$images" != "$loaded" ]; then
    echo "only $loaded of $images figures loaded" >&2
    exit 1
fi
echo "ok: all $images figures in $report loaded"
