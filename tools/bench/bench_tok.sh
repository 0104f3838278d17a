#!/usr/bin/env bash
# tools/bench/bench_tok.sh — tokenizer load time and encode throughput, C (build/bench/bench_tok)
# next to the `tokenizers` package (Python) on the same files, input and machine.
#   load: tok_load best of 5 (and plain jansson json_load_file / jansson + tok_from_json, to show
#         where the time would go without the fast vocab/merges reader); HF Tokenizer.from_file.
#   encode: 1 MB of mixed text (random lines of words from the fixture corpus: prose prompts, 40+
#         scripts, emoji, code, digits, special-token text, whitespace runs) as ONE string, no special
#         tokens, C best of 5, HF best of 3; HF Tokenizer.encode(text, add_special_tokens=False) (single string:
#         one thread). The ids of both are compared as well.
# CPU time (process time) is reported next to wall time because the machine may be shared: on a
# busy machine the wall clock also counts waiting for a core. Needs python3 with `tokenizers`; the Tekken file is the unpacked test fixture. Results:
# BENCHMARKS.md, section "Tokenizer".
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${LW_SHARED:-../shared}
[ -d "$SHARED/tokenizers" ] || SHARED=/work/shared
BIN=build/bench/bench_tok
[ -x $BIN ] || make -s $BIN
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lwbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
xz -dc tests/fixtures/tok/tekken_240718.tokenizer.json.xz >"$TMP/tekken.json"
python3 - "$TMP/text.txt" <<'PY'
# Lines of 3-40 words drawn at random from the fixture corpus (so lines do not repeat, words do),
# joined by spaces, with occasional tabs, double spaces and blank lines.
import json, random, sys
recs = [json.loads(l) for l in open("tests/fixtures/tok/llama3.jsonl", encoding="utf-8")]
words = [w for r in recs if not r.get("unicode14_cn") for w in r["text"].split()]  # docs/TOKENIZER.md
rng = random.Random(316)
out, n = [], 0
while n < 1_000_000:
    line = rng.choice([" ", " ", " ", " ", "  ", "\t"]).join(rng.choice(words) for _ in range(rng.randint(3, 40)))
    out.append(line); n += len(line.encode()) + 1
    if rng.random() < 0.1: out.append(""); n += 1
text = "\n".join(out).encode()[:1_000_000].decode("utf-8", "ignore")
open(sys.argv[1], "w", encoding="utf-8", newline="").write(text)
PY
echo "input: $(stat -c %s "$TMP/text.txt") bytes of mixed text; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| tokenizer | file | C load: wall / CPU | jansson CPU: parse / + build | HF load CPU | C encode: wall / CPU | HF encode CPU | ids identical | C peak RSS |\n|---|---|---|---|---|---|---|---|---|\n'
for name in llama3 qwen3 mistral-7b-v0.1 gemma3 tekken; do
  f=$SHARED/tokenizers/$name/tokenizer.json
  [ $name = tekken ] && f=$TMP/tekken.json
  $BIN "$f" "$TMP/text.txt" --repeat 5 --jansson --ids "$TMP/c.ids" >"$TMP/c.out" 2>/dev/null
  echo '"The capital of Germany is called simply"' | /usr/bin/time -f %M -o "$TMP/rss" bin/lensweep tokenize --tokenizer "$f" >/dev/null
  python3 - "$f" "$TMP/text.txt" "$TMP/py.ids" >"$TMP/py.out" <<'PY'
import sys, time
from tokenizers import Tokenizer
path, text = sys.argv[1], open(sys.argv[2], encoding="utf-8", newline="").read()
best = bestc = 1e9
for _ in range(3):
    t0, c0 = time.perf_counter(), time.process_time()
    tok = Tokenizer.from_file(path)
    best, bestc = min(best, time.perf_counter() - t0), min(bestc, time.process_time() - c0)
print("load_s", best); print("load_cpu_s", bestc)
best = bestc = 1e9
for _ in range(3):
    t0, c0 = time.perf_counter(), time.process_time()
    enc = tok.encode(text, add_special_tokens=False)
    best, bestc = min(best, time.perf_counter() - t0), min(bestc, time.process_time() - c0)
print("encode_MB_per_s", len(text.encode()) / best / 1e6); print("encode_cpu_MB_per_s", len(text.encode()) / bestc / 1e6)
open(sys.argv[3], "w").write("".join(f"{i}\n" for i in enc.ids))
PY
  g() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
  same=$(cmp -s "$TMP/c.ids" "$TMP/py.ids" && echo "yes ($(wc -l <"$TMP/c.ids") ids)" || echo NO)
  printf '| %s | %.1f MB | %.3f / %.3f s | %.3f / %.3f s | %.3f s | %.1f / %.1f MB/s | %.1f MB/s | %s | %.0f MB |\n' $name \
    "$(awk -v b="$(stat -c %s "$f")" 'BEGIN { print b / 1e6 }')" "$(g load_s "$TMP/c.out")" "$(g load_cpu_s "$TMP/c.out")" \
    "$(g jansson_parse_cpu_s "$TMP/c.out")" "$(g jansson_plus_build_cpu_s "$TMP/c.out")" "$(g load_cpu_s "$TMP/py.out")" \
    "$(g encode_MB_per_s "$TMP/c.out")" "$(g encode_cpu_MB_per_s "$TMP/c.out")" "$(g encode_cpu_MB_per_s "$TMP/py.out")" "$same" \
    "$(awk '{ print $1 / 1024 }' "$TMP/rss")"
done
