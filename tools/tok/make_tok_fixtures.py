#!/usr/bin/env python3
"""Expected token ids for tests/unit/test_tok.c, made by the reference implementation.

For every tokenizer.json in SHARED/tokenizers/<name>/ (default SHARED=../shared, or /work/shared)
this writes tests/fixtures/tok/<name>.jsonl: one line per corpus string,
  {"text": ..., "ids": [...] (add_special_tokens=False), "ids_special": [...] (True),
   "tokens": [...] (Encoding.tokens, only for every 7th line to keep the file small)}
and tests/fixtures/tok/<name>.decode.json: the single-id decode of every id
(Tokenizer.decode([id], skip_special_tokens=False)) as an FNV-1a-64 digest over
"decode\\0" for id 0..n-1 (each decode cut at its first U+0000, as the C API's strings are), plus ~600 sampled ids with their decode and id_to_token strings.

Tekken (Mistral-Small-24B-Base-2501): no tokenizer.json of it is available offline, so the
script converts mistral-common's bundled tekken_240718.json (Mistral NeMo's Tekken; same rank
list for the words checked in TOKENIZERS.md 2.6) with transformers' MistralConverter, the code
HF itself uses for Tekken checkpoints, and commits it xz-compressed
(tests/fixtures/tok/tekken_240718.tokenizer.json.xz, ~1.8 MB; the test unpacks it).
Needs: pip install mistral-common.

Usage: python3 tools/tok/make_tok_fixtures.py   (from the repository root; needs `tokenizers`)
"""
import json
import os
import random
import sys

import lzma
import unicodedata

import tokenizers
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "tok")
NAMES = ["llama3", "qwen3", "mistral-7b-v0.1", "gemma3", "tekken"]
TEKKEN_XZ = os.path.join(OUT, "tekken_240718.tokenizer.json.xz")

# Variants: a real file with some components replaced, for component types none of the real files
# uses (Metaspace as converters write it today, Digits + ByteLevel's own regex as in GPT-2/SmolLM2
# files, every Split behavior, a template with a suffix). Written to variants.json; the C test
# applies the same replacements (tok_from_json) and compares with the fixtures made here.
MS = "\u2581"
VARIANTS = {
    "mistral-metaspace-first": {"base": "mistral-7b-v0.1", "set": {
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": MS, "prepend_scheme": "first", "split": False}}},
    "mistral-metaspace-always-split": {"base": "mistral-7b-v0.1", "set": {
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": MS, "prepend_scheme": "always", "split": True},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Metaspace", "replacement": MS, "prepend_scheme": "always", "split": True},
            {"type": "ByteFallback"}, {"type": "Fuse"}]}}},
    "llama3-gpt2": {"base": "llama3", "set": {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "<|end_of_text|>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000], "tokens": ["<|begin_of_text|>"]},
                                              "<|end_of_text|>": {"id": "<|end_of_text|>", "ids": [128001], "tokens": ["<|end_of_text|>"]}}}}},
    "qwen3-split-behaviors": {"base": "qwen3", "set": {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
            {"type": "Split", "pattern": {"Regex": "\\p{N}"}, "behavior": "Contiguous", "invert": False},
            {"type": "Split", "pattern": {"String": ","}, "behavior": "Removed", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[.!?]"}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}}},
}


def tekken_tokenizer():
    import mistral_common
    from transformers.integrations.mistral.tokenizer import MistralConverter
    src = os.path.join(os.path.dirname(mistral_common.__file__), "data", "tekken_240718.json")
    tok = MistralConverter(src).converted()
    js = tok.to_str()
    with lzma.open(TEKKEN_XZ, "wb", preset=9) as f:
        f.write(js.encode("utf-8"))
    return Tokenizer.from_str(js)


def shared_dir():
    s = os.environ.get("LW_SHARED")
    if s:
        return s
    for c in (os.path.join(ROOT, "..", "shared"), "/work/shared"):
        if os.path.isdir(os.path.join(c, "tokenizers")):
            return c
    sys.exit("make_tok_fixtures: no shared/tokenizers found; set LW_SHARED")


# ---------------------------------------------------------------------------------- corpus
COUNTRIES = [("Germany", "Berlin"), ("France", "Paris"), ("Italy", "Rome"), ("Japan", "Tokyo"), ("Canada", "Ottawa")]
ORIG = "Give the city name only, plain text. The capital of {} is called simply"
NOFILL = "Give the city name only, plain text. The capital of {} is called"
TEST_PROMPTS = [
    "Berlin is the capital of", "Germany's capital city is called simply",
    "The capital city of Germany is named simply", "Germany has its capital at the city called simply",
    "In Germany the capital city is simply", "Germany's capital city is called",
    "The capital city of Germany is named", "Germany has its capital at",
    "In Germany the capital city is known as", "Give the country name only, plain text. Berlin is the capital of",
    "Give the city name only, plain text. Germany's capital city is called",
    "Give the city name only, plain text. The capital city of Germany is named simply",
    "Give the city name only, plain text. Germany has its capital at",
    "Give the city name only, plain text. In Germany, the capital city is known as",
]

MULTI = [
    "北京是中国的首都，人口超过两千万。", "東京は日本の首都です。ひらがなとカタカナ、漢字。", "서울은 대한민국의 수도입니다.",
    "القاهرة هي عاصمة مصر.", "ירושלים היא בירת ישראל.", "नई दिल्ली भारत की राजधानी है।", "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    "Москва — столица России. ЁЖИК ёжик", "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.", "Երևանը Հայաստանի մայրաքաղաքն է։",
    "თბილისი საქართველოს დედაქალაქია.", "சென்னை தமிழ்நாட்டின் தலைநகரம்.", "ঢাকা বাংলাদেশের রাজধানী।", "አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።",
    "Hà Nội là thủ đô của Việt Nam.", "Ankara Türkiye'nin başkentidir. İSTANBUL ılık", "Warszawa jest stolicą Polski. Zażółć gęślą jaźń",
    "Die Straße heißt Großstraße. STRASSE ẞ", "Ísland: Reykjavík er höfuðborg. Þórður Ðð", "Čeština: Praha je hlavní město. ŘÍJEN",
    "Ελληνικά ΣΊΣΥΦΟΣ σίσυφος ς", "Українська: Київ — столиця. Ґґ Єє Її", "Монгол улсын нийслэл Улаанбаатар ᠮᠣᠩᠭᠣᠯ",
    "ລາວ ວຽງຈັນ", "ខ្មែរ ភ្នំពេញ", "မြန်မာ နေပြည်တော်", "සිංහල කොළඹ", "ગુજરાતી અમદાવાદ", "ਪੰਜਾਬੀ ਚੰਡੀਗੜ੍ਹ", "తెలుగు హైదరాబాద్",
    "ಕನ್ನಡ ಬೆಂಗಳೂರು", "മലയാളം തിരുവനന്തപുരം", "ଓଡ଼ିଆ ଭୁବନେଶ୍ୱର", "བོད་ཡིག ལྷ་ས", "ދިވެހި މާލެ", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", "ᐃᓄᒃᑎᑐᑦ ᐃᖃᓗᐃᑦ",
    "Tiếng Việt: Người ta nói rằng ở đây đẹp.", "Español: ¿Dónde está la estación? ¡Allí!", "Français : « Où est-ce ? » — Ça va.",
    "Português: São Paulo não é a capital.", "Română: București, țară, șase", "Esperanto: ĉu ĝi estas ŝipo? ŭ",
    "日本語の文章、句読点。「かぎかっこ」と（括弧）", "中文標點符號：「」『』，。！？",
]

EMOJI = [
    "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇩🇪🇫🇷🇯🇵", "1️⃣ #️⃣", "❤️‍🔥", "🧑🏿‍💻 coding", "I ❤ NY", "😀😃😄😁😆",
    "family: 👩‍👩‍👦 end", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland", "✌️✌🏻✌🏼", "☃ ☂ ☀ ★ ☆", "🙂\u200d🙂", "text🙂text", " 🙂 ", "🇺🇳🇺🇳🇺🇳",
]

COMBINING = [
    "e\u0301", "cafe\u0301", "A\u030a", "\u212b", "\u2126", "o\u0308\u0301", "a\u0323\u0302", "a\u0302\u0323",
    "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u1173\u11af", "Vie\u0323\u0302t Nam", "n\u0303o\u0303",
    "\u0041\u030a\u0301", "e\u0301\u0301\u0301", "\u0915\u093c", "\u00c5ngstr\u00f6m \u212bngstro\u0308m",
    "\ufb01 ligature", "\u0065\u0300\u0316", "\u0301 leading mark", "x\u20dd", "Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324",
    "\u05d1\u05bc\u05b0", "\u0627\u0651\u064e", "\u30ab\u3099", "\u304b\u3099", "\u1e9b\u0323",
]

DIGITS = [
    "1234567890", "12345678901234567890123456789", "3.14159265358979", "2024-12-04", "1,000,000", "0.000001",
    "x1y22z333w4444", "٠١٢٣٤٥٦٧٨٩", "１２３４５", "²³¹ ½ ¾", "Ⅻ ⅷ", "𝟏𝟐𝟑", "phone: +49 30 1234567", "v1.2.3-rc4",
    "1e10 1E-5 0x1F 0b101", "9" * 40, "12 345 678", "$1234.56", "100%", "१२३४", "〇一二三",
]

CONTRACTIONS = [
    "I'm here", "I'M HERE", "i'M", "you're", "YOU'RE", "You'Re", "we've", "WE'VE", "we'Ve", "it's", "IT'S", "it'S",
    "don't", "DON'T", "Don'T", "she'll", "SHE'LL", "she'Ll", "he'd", "HE'D", "He'D", "they're'll'd", "'s'S't'T",
    "rock'n'roll", "O'Neil's", "l'amour l'AMOUR", "I’m curly", "don’t", "'", "''", "'''s", "x's", "X'S", "ſ'ſ",
    "it'ſ", "can't won't shan't", "Y'ALL", "'ll", "'LL", "'re'RE",
]

WHITESPACE = [
    " ", "  ", "   ", " leading", "trailing ", "  both  ", "a  b   c    d", "\t", "\ttab", "a\tb\t\tc", "\n", "\n\n",
    "\n\n\n\n", "a\nb", "a\n\nb", "a\r\nb", "line1\r\nline2\r\n", "\r", "\r\r\n\n", " \n ", "  \n  \n  ", "x \n\n y",
    "word\u00a0word", "ideographic\u3000space", "thin\u2009space", "mongolian\u180evowel", "zero\u200bwidth",
    "bom\ufeffmark", "nel\u0085line", "line\u2028sep", "para\u2029sep", "en\u2002em\u2003", "\u00a0\u00a0", "\u3000",
    "\v\f", "a \t b", "\t\n \t", "ends with newline\n", "     many spaces before", "x" + " " * 33 + "y", "\n" * 33,
    "\t" * 10, "  \t  \n", "a\u200db", "a\u200cb", "a\u2060b",
]

BYTES = [
    "𠀀𠀁𠀂", "𒀀𒀁", "𐀀 Linear B", "\ue000\uf8ff private use", "𝄞 music", "𝐀𝐁𝐂 math", "\u0378 unassigned", "\x00", "a\x00b",
    "\x01\x02\x03\x1f", "\x7f", "\ufffd", "\uffff", "\U0010fffd", "𓀀 hieroglyph", "🜀 alchemical", "ꙮ", "\u2e80",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "🀄🃏", "\U0001f9ff", "\U000e0001", "ᚠᛇᚻ runes", "ⴰⵣⵓⵍ", "ꦗꦮ", "𖹀", "\u0600\u0601", "\u061c",
]

# Code points assigned in Unicode 15-16: HF's regex engine (Oniguruma) knows them; Debian 12's PCRE2
# 10.42 (Unicode 14) does not, and lensweep widens its classes only up to utf8proc's Unicode 15.0
# (docs/TOKENIZER.md), so a letter from 15.1/16 can split differently. Kept out of the random
# mixes. Records holding a code point unassigned in Unicode 14 (Python 3.11's unicodedata) carry
# "unicode14_cn": true (the CLI test leaves them out); the C test accepts a difference only on a
# string holding a code point utf8proc calls unassigned, and counts them.
NEW_UNICODE = [
    "a\U00011f04\U00011f05b", "x \U0001e4d0\U0001e4d1y", "\U00031350\U00031351", "\U0002ebf0a", "b\U0001e030",
    "\u0cf3x", "\U0001f6dc ok", "ab\U00010efdc", "\U0001fa75", "\U00011f50 12", "\U0001e030<s>x", "<\U0001e030s",
    "it\U0001e030's", "\U00011f04 \U00011f05", "\U0001e4d0123", "it\U000105c0's", "it\U00011f04's", "it\U0002ebf0's",
]

CODE = [
    "def f(x):\n    return x ** 2\n", "int main(void) { return 0; }", "for (i = 0; i < n; i++) a[i] += b[i];",
    "https://example.com/path?q=1&r=two#frag", "user@example.org", "{\"key\": [1, 2, 3], \"b\": null}",
    "# Heading\n\n* item\n* item 2\n\n```python\nprint('hi')\n```", "<html><body><table><tr><td>x</td></tr></table></body></html>",
    "SELECT * FROM t WHERE a = 'b';", "C:\\Windows\\System32", "a/b/c//d///e", "---***___===", "...!!!???",
    "(parenthesized) [bracketed] {braced}", "«quoted» “curly” ‘single’", "snake_case camelCase PascalCase kebab-case",
    "ALLCAPS lowercase MiXeD iPhone eBay McDonald's", "<|im_start|>user\nhi<|im_end|>", "&amp; &lt; &#x27;",
]

ALL_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|reserved_special_token_5|>",
                "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>", "<|fim_prefix|>",
                "<s>", "</s>", "<unk>", "<bos>", "<eos>", "<pad>", "<start_of_turn>", "<end_of_turn>", "<unused0>",
                "<mask>", "[INST]", "[/INST]", "<|startoftext|>", "<table>", "<td>", "<h1>"]


def special_strings(rng):
    out = []
    for s in ALL_SPECIALS:
        out += [s, "Hello " + s + " world", "abc" + s + "def", s + s, " " + s + " ", s[:-1], s[1:], "x" + s[:len(s) // 2]]
    out += ["<s></s><s>", "<s> <s>", "<<s>>", "<s>x", "\n<s>\n", "▁▁ literal", "▁x▁", "▁", "a▁▁▁b",
            "Give the city name only, plain text.<|begin_of_text|> The capital of Germany is called simply",
            "<start_of_turn>user\nWhat is the capital?<end_of_turn>\n<start_of_turn>model\n"]
    return out


def random_mix(rng, n):
    pool = []
    for group in (MULTI, EMOJI, COMBINING, DIGITS, CONTRACTIONS, WHITESPACE, BYTES, CODE):
        for s in group:
            pool.extend(list(s))
    words = ["the", "The", "THE", " capital", "Berlin", "'s", "'LL", "don't", "123", "4567", "  ", "\n", "\r\n", "\t",
             "<s>", "<|im_end|>", "<bos>", "é", "e\u0301", "👍🏽", "中文", "日本", "→", "–", "—", "…", "\u00a0", ".", ",", "!?"]
    out = []
    for _ in range(n):
        k = rng.randint(1, 24)
        parts = []
        for _ in range(k):
            parts.append(rng.choice(words) if rng.random() < 0.5 else rng.choice(pool))
        out.append("".join(parts))
    return out


def corpus():
    rng = random.Random(316)
    texts = [""]
    for c, a in COUNTRIES:
        for tpl in (ORIG, NOFILL):
            p = tpl.format(c)
            texts += [p, p + " " + a, p + a]
    texts += TEST_PROMPTS
    for group in (MULTI, EMOJI, COMBINING, DIGITS, CONTRACTIONS, WHITESPACE, BYTES, CODE):
        texts += group
        texts += [" " + s for s in group[::3]]
        texts += [s.upper() for s in group[::4]]
    texts += special_strings(rng)
    texts += random_mix(rng, 260)
    texts += NEW_UNICODE
    texts.append(" ".join(MULTI))  # one long line
    seen, out = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def fnv1a64(data, h=0xcbf29ce484222325):
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def variant_tokenizer(shared, v):
    with open(os.path.join(shared, "tokenizers", v["base"], "tokenizer.json"), encoding="utf-8") as f:
        d = json.load(f)
    d.update(v["set"])
    return Tokenizer.from_str(json.dumps(d))


def main():
    assert unicodedata.unidata_version == "14.0.0", "the unicode14_cn flag needs Python 3.11's Unicode 14 tables"
    shared = shared_dir()
    os.makedirs(OUT, exist_ok=True)
    texts = corpus()
    print(f"corpus: {len(texts)} strings; tokenizers {tokenizers.__version__}")
    with open(os.path.join(OUT, "variants.json"), "w", encoding="utf-8") as f:
        json.dump(VARIANTS, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for name in NAMES + list(VARIANTS):
        if name == "tekken":
            tok = tekken_tokenizer()
        elif name in VARIANTS:
            tok = variant_tokenizer(shared, VARIANTS[name])
        else:
            tok = Tokenizer.from_file(os.path.join(shared, "tokenizers", name, "tokenizer.json"))
        with open(os.path.join(OUT, name + ".jsonl"), "w", encoding="utf-8") as f:
            for i, t in enumerate(texts):
                e0 = tok.encode(t, add_special_tokens=False)
                e1 = tok.encode(t, add_special_tokens=True)
                rec = {"text": t, "ids": e0.ids, "ids_special": e1.ids}
                if any(unicodedata.category(ch) == "Cn" for ch in t):
                    rec["unicode14_cn"] = True
                if i % 7 == 0:
                    rec["tokens"] = e0.tokens
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        n = tok.get_vocab_size(with_added_tokens=True)
        n = max(n, max(tok.get_vocab(with_added_tokens=True).values()) + 1)
        h = 0xcbf29ce484222325
        decs = []
        for i in range(n):
            d = tok.decode([i], skip_special_tokens=False)
            decs.append(d)
            # the C API returns NUL-terminated strings: a decode holding U+0000 counts up to it
            h = fnv1a64(d.split("\0")[0].encode("utf-8") + b"\0", h)
        rng = random.Random(1000 + len(name))
        sample = set(range(0, min(n, 300))) | set(rng.sample(range(n), 300)) | set(range(n - 300, n))
        samples = [{"id": i, "decode": decs[i], "token": tok.id_to_token(i)} for i in sorted(sample)]
        with open(os.path.join(OUT, name + ".decode.json"), "w", encoding="utf-8") as f:
            json.dump({"n_ids": n, "fnv1a64": f"{h:016x}", "samples": samples}, f, ensure_ascii=False)
            f.write("\n")
        print(f"{name}: {len(texts)} strings, {n} ids decoded")

if __name__ == "__main__":
    main()
