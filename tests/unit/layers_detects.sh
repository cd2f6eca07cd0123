#!/usr/bin/env bash
# The layer check must reject an include that points up, a core file
# outside a layer folder, and a transport including a private header;
# and accept the same tiny tree once it is fixed (so it can pass, too).
set -euo pipefail
check=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/core/src/base" "$dir/core/src/entry" "$dir/core/include/vmb" "$dir/fcgi-app"
printf '#ifndef TOP_H\n#define TOP_H\nint top(void);\n#endif\n' > "$dir/core/src/entry/top.h"
printf '#include "top.h"\nint top(void) { return 1; }\n' > "$dir/core/src/entry/top.c"
printf '#ifndef LOW_H\n#define LOW_H\nint low(void);\n#endif\n' > "$dir/core/src/base/low.h"
printf 'int main(void) { return 0; }\n' > "$dir/fcgi-app/main.c"

expect_fail() {   # WHAT
  if "$check" "$dir" >"$dir/out" 2>&1; then
    echo "check-layers.sh accepted $1"
    exit 1
  fi
  echo "detected: $1: $(head -1 "$dir/out")"
}

# 1. base/low.c includes a header of the top layer.
printf '#include "low.h"\n#include "top.h"\nint low(void) { return top(); }\n' \
  > "$dir/core/src/base/low.c"
expect_fail "an upward include (base -> entry)"
# fixed: the call goes the other way.
printf '#include "low.h"\nint low(void) { return 0; }\n' > "$dir/core/src/base/low.c"
"$check" "$dir" >/dev/null || { echo "check-layers.sh refused a correct tree"; exit 1; }

# 2. a source file outside any layer folder.
printf 'int stray(void) { return 0; }\n' > "$dir/core/src/stray.c"
expect_fail "a core file outside a layer folder"
rm "$dir/core/src/stray.c"

# 3. a transport that includes a private core header.
printf '#include "low.h"\nint main(void) { return low(); }\n' > "$dir/fcgi-app/main.c"
expect_fail "a transport including a private header"
printf 'int main(void) { return 0; }\n' > "$dir/fcgi-app/main.c"

# 4. no upward include, but a prototype written by hand: only the symbol
#    check of the built archive can see it.
printf '#include "low.h"\nint top(void);\nint low(void) { return top(); }\n' \
  > "$dir/core/src/base/low.c"
"$check" "$dir" >/dev/null || { echo "the include check alone should pass here"; exit 1; }
cc=${CC:-cc}
(cd "$dir" && "$cc" -c core/src/base/low.c -o low.c.o && "$cc" -c core/src/entry/top.c -o top.c.o &&
  ar rcs libcore.a low.c.o top.c.o)
if "$check" "$dir" "$dir/libcore.a" >"$dir/out" 2>&1; then
  echo "check-layers.sh accepted a call into a higher layer through a hand-written prototype"
  exit 1
fi
echo "detected: a hand-declared upward call: $(head -1 "$dir/out")"
# 5. the gate's walk defined in the entry layer instead of gate/ (all
#    calls point down, so only the placement check can see it).
mkdir -p "$dir/core/src/gate"
printf 'void vmb_gate_http(void);\nvoid vmb_gate_http(void) {}\nvoid vmb_gate_run(void);\nvoid vmb_gate_run(void) {}\n' \
  > "$dir/core/src/entry/walk.c"
printf 'void vmb_gate_http(void);\nvoid vmb_core_handle(void);\nvoid vmb_core_handle(void) { vmb_gate_http(); }\n' \
  > "$dir/core/src/entry/core.c"
printf 'int low(void) { return 0; }\n' > "$dir/core/src/base/low.c"
(cd "$dir" && rm -f libcore.a && "$cc" -c core/src/entry/walk.c -o walk.c.o &&
  "$cc" -c core/src/entry/core.c -o core.c.o && "$cc" -c core/src/base/low.c -o low.c.o &&
  ar rcs libcore.a walk.c.o core.c.o low.c.o)
if "$check" "$dir" "$dir/libcore.a" >"$dir/out" 2>&1; then
  echo "check-layers.sh accepted the gate's walk defined in entry/"
  exit 1
fi
echo "detected: the gate outside gate/: $(head -1 "$dir/out")"
# fixed: the walk moves to gate/.
mv "$dir/core/src/entry/walk.c" "$dir/core/src/gate/walk.c"
(cd "$dir" && rm -f libcore.a && "$cc" -c core/src/gate/walk.c -o walk.c.o &&
  ar rcs libcore.a walk.c.o core.c.o low.c.o)
"$check" "$dir" "$dir/libcore.a" >"$dir/out" 2>&1 ||
  { echo "check-layers.sh refused the gate in gate/: $(cat "$dir/out")"; exit 1; }
echo "all planted layer violations detected"
