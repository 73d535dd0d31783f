"""Reference outputs for the ALBERT tokenizer parity tests (crates/albert/tests/tokenizer_parity.rs).

Two references, one per tokenizer path:

* spiece.model path: the `sentencepiece` library with ALBERT's original preprocessing, i.e.
  transformers 4.x's slow AlbertTokenizer logic re-implemented here on top of sentencepiece
  (`SlowAlbert` below: special-token split with [MASK] lstrip, the per-character lowercase
  pre-pass of PreTrainedTokenizer.tokenize, preprocess_text, sp.encode, the digit-comma rule).
* tokenizer.json path: transformers 5.x's AlbertTokenizer (tokenizers-backed), offsets included.

The parity set is fixed before measuring: every line of the files in SOURCES, the XQuAD texts
(contexts, questions, answers) of six languages, and the hand-made hard cases in HARD_CASES.
Big sources are stored as per-text digests (FNV-1a 64 of the expected ids, truncated per line,
plus a full 64-bit digest per file); hard cases are stored in full.

Usage: ~/.venvs/ref/bin/python scripts/reference/tokenizer_parity.py [--data ../shared/data]
Writes tests/fixtures/tokenizer/.
"""
import argparse
import glob
import json
import os
import re
import shutil
import struct
import sys
import tempfile

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

SPIECE_UNDERLINE = "\u2581"
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "tokenizer")

GUTENBERG = ["austen-emma", "austen-persuasion", "austen-sense", "bible-kjv", "blake-poems", "carroll-alice",
             "chesterton-ball", "chesterton-brown", "chesterton-thursday", "melville-moby_dick", "milton-paradise",
             "shakespeare-caesar", "shakespeare-hamlet", "shakespeare-macbeth", "whitman-leaves"]
SOURCES = sorted(
    ["corpus/botchan/botchan.txt", "corpus/wikitext-2/wiki.valid.tokens", "corpus/wikitext-2/wiki.test.tokens",
     "glue/SST-2/dev.tsv", "glue/MRPC/dev.tsv", "glue/RTE/dev.tsv"]
    + [f"corpus/gutenberg_nltk/{b}.txt" for b in GUTENBERG]
) + [f"xquad/xquad.{lang}.json" for lang in ["en", "de", "es", "ru", "zh", "ar"]]

# Hand-made hard cases: accents, combining marks, full-width forms, CJK, emoji, digits with commas,
# backtick quotes, tabs and odd whitespace, URLs, special tokens in text, empty text.
HARD_CASES = [
    "", " ", "   ", "\t", "\n", "\u3000", "\u00a0", "\u200b", "a", "A", ".", ",", "9,", "9,000", "1,234,567",
    "i was born in 92000, and this is falsé.", "This is a test", "Hello world", "Hello  world", "Hello\tworld",
    "Hello\nworld", "Hello\r\nworld", "  leading and trailing  ", "tab\tseparated\tvalues", "a\t\tb", "a \t b",
    "a\u00a0b", "a\u2009b", "a\u3000b", "a\u200bb", "a\u2028b", "a\u0085b", "a\x1cb", "a\x0bb", "a\x0cb",
    "``quoted''", "``", "''", "```triple'''", "He said ``hi'' and 'bye'.", "`single` quotes", "it's", "don't 'quote'",
    "café", "Café", "CAFÉ", "naïve", "résumé", "Ångström", "São Paulo", "Zoë", "façade", "piñata", "über", "Straße",
    "crème brûlée", "e\u0301", "e\u0301\u0301", "\u0301", "a\u0308o\u0308u\u0308", "n\u0303", "\u0041\u030a",
    "Ǆ ǅ ǆ", "Ǉ", "ﬁ ﬂ ﬀ", "ﬃ", "Ⅻ", "½ ¼ ¾", "²³¹", "x² + y²", "①②③", "№ 5", "℃", "™", "㎏", "Ⓐ", "㈱",
    "ＡＢＣ", "ａｂｃ", "１２３", "１，２３４", "Ｈｅｌｌｏ　Ｗｏｒｌｄ", "！？", "（括弧）", "ｶﾀｶﾅ", "ﾊﾟ",
    "中文", "我爱北京天安门", "日本語のテキスト", "ひらがな", "カタカナ", "한국어", "한국어 텍스트", "漢字かな混じり文",
    "中文，标点。", "「引用」", "『二重』", "《书名》", "Русский текст", "ПРИВЕТ мир", "Ёлка", "й", "Ελληνικά",
    "ΟΔΟΣ", "Σ", "ΣΑΣ ΣΑΣ", "𝚺 𝚺𝚺", "العربية", "مرحبا بالعالم", "עברית", "हिन्दी", "ไทย", "Tiếng Việt",
    "Türkçe İstanbul", "İ", "ı", "ǰ", "ŉ", "😀", "😀😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", "☺", "✓ ✔", "→ ←", "∑ ∏",
    "9,", "a9,", "9,a", "a 9, b", "99,", "1,2", "12,34,56", "1,000,000 dollars", "$1,000", "€1,000", "£5,000",
    "In 1990, he", "²,", "①,", "٣,", "٣٤٥,", "१२,", "9 ,", "9,,", ",9", "3.14", "3,14", "10.000,50", "1e10",
    "call 555-1234", "2023-01-01", "12:30", "50%", "#hashtag", "@user", "a.b.c", "e.g.", "U.S.A.", "...",
    "—dash—", "–en–", "--", "a-b", "(paren)", "[bracket]", "{brace}", "<angle>", "\"double\"", "“smart”",
    "‘single’", "«guillemets»", "„German“", "•bullet", "…ellipsis", "a/b", "a\\b", "a|b", "a_b", "a~b",
    "http://example.com", "https://www.example.com/path?q=1&r=2#frag", "www.google.com", "user@example.com",
    "ftp://files.example.org/a_b-c.txt", "C:\\Program Files\\x", "/usr/local/bin", "<html><body>hi</body></html>",
    "[CLS]", "[SEP]", "[MASK]", "<pad>", "<unk>", "[CLS] x [SEP]", "a [MASK] b", "a[MASK]b", "a  [MASK]  b",
    "[MASK][MASK]", "[mask]", "[Mask]", "<PAD>", "<UNK>", "<s>", "</s>", "[MASK].", "the [MASK] is red",
    "\t[MASK]", "x\t[MASK]", "[CLS][SEP]", "<pad><pad>", "<unk> token", "[MASK] 9,000", "▁", "▁▁", "a▁b",
    "ALL CAPS SENTENCE", "MiXeD CaSe", "camelCaseWord", "snake_case_word", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "supercalifragilisticexpialidocious", "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "q", "xyzzy", "Q&A", "AT&T", "C++", "C#",
    "f(x) = 2x + 1", "a = b * c / d", "1 + 1 = 2", "x<y>z", "~!@#$%^&*()_+", "\x00", "\x01", "\x7f", "\ufeffBOM",
    "\ufffd", "a\u00adb", "soft\u00adhyphen", "ZWJ\u200dtest", "ZWNJ\u200ctest", "LRM\u200etest", "\u2060word",
    "Ⅰ Ⅱ Ⅲ", "ℌ", "ℵ", "ʰ", "ᵃ", "ⁱⁿ", "₀₁₂", "㍿", "㋿", "ﷺ", "ﷻ", "ﻻ", "ﬀﬁ", "Ꭰ", "ꭰ", "ǅungla",
    "The café's crème brûlée costs $12,50.", "He paid 9,000, then 1,000,", "Line one.\nLine two.\n\nLine four.",
    "  \t mixed \n\r whitespace \u3000 here\t", "emoji 😀 in text", "数字123和English混合", "Москва 2024, январь",
    "naïve café 9,99 €", "¿Qué tal?", "¡Hola!", "Ça va?", "L'été", "dell'anno", "Grüße aus Köln", "ß ẞ",
]

TRUNCATION_CASES = [
    # (text, pair, kwargs) run through transformers' AlbertTokenizer with overflow and offsets.
    ("a b c d e f", "c d e f g h i j k", dict(max_length=9, truncation="longest_first", stride=1)),
    ("What is the capital?", "Paris is the capital and most populous city of France, with 2,102,650 residents.",
     dict(max_length=16, truncation="only_second", stride=4)),
    ("a very long first sequence of many words that goes on", "short", dict(max_length=10, truncation="only_first", stride=2)),
    ("one two three four five six seven", None, dict(max_length=5, truncation="longest_first", stride=1)),
    ("one two three", "four five", dict(max_length=32, truncation="longest_first", padding="max_length")),
    ("one two three", None, dict(padding="max_length", max_length=8, pad_to_multiple_of=4)),
    ("one two three four five six seven eight", "nine ten eleven", dict(max_length=8, truncation="longest_first", stride=0)),
    ("x", "y z w v u t s r q p o n m", dict(max_length=7, truncation="only_second", stride=2, padding="max_length")),
]


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def ids_bytes(ids):
    return struct.pack(f"<{len(ids)}I", *ids)


def hf_bytes(ids, offsets):
    flat = [x for o in offsets for x in o]
    return ids_bytes(ids) + b"\xff\xff\xff\xff" + ids_bytes(flat)


class SlowAlbert:
    """transformers 4.x's slow AlbertTokenizer tokenization, over the sentencepiece library."""

    def __init__(self, model_file, do_lower_case=True, keep_accents=False):
        self.sp = spm.SentencePieceProcessor(model_file=model_file)
        m = pb.ModelProto()
        with open(model_file, "rb") as f:
            m.ParseFromString(f.read())
        # Control and unknown pieces are the tokenizer's special tokens; for ALBERT these are
        # <pad>, <unk>, [CLS], [SEP], [MASK].
        self.specials = [p.piece for p in m.pieces if p.type in (2, 3)]
        self.do_lower_case = do_lower_case
        self.keep_accents = keep_accents
        alt = "|".join(re.escape(s) for s in self.specials)
        self.lower_re = re.compile(r"(" + alt + r")|(.+?)")
        self.split_re = re.compile(r"(" + alt + r")")

    def preprocess_text(self, inputs):
        outputs = " ".join(inputs.strip().split())
        outputs = outputs.replace("``", '"').replace("''", '"')
        if not self.keep_accents:
            import unicodedata
            outputs = unicodedata.normalize("NFKD", outputs)
            outputs = "".join([c for c in outputs if not unicodedata.combining(c)])
        if self.do_lower_case:
            outputs = outputs.lower()
        return outputs

    def _tokenize(self, text):
        text = self.preprocess_text(text)
        pieces = self.sp.encode(text, out_type=str)
        new_pieces = []
        for piece in pieces:
            if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                cur_pieces = self.sp.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
                if piece[0] != SPIECE_UNDERLINE and cur_pieces[0][0] == SPIECE_UNDERLINE:
                    if len(cur_pieces[0]) == 1:
                        cur_pieces = cur_pieces[1:]
                    else:
                        cur_pieces[0] = cur_pieces[0][1:]
                cur_pieces.append(piece[-1])
                new_pieces.extend(cur_pieces)
            else:
                new_pieces.append(piece)
        return new_pieces

    def tokenize(self, text):
        if self.do_lower_case:
            text = self.lower_re.sub(lambda m: m.groups()[0] or m.groups()[1].lower(), text)
        tokens = self.split_re.split(text)
        for i, tok in enumerate(tokens):
            if tok == "[MASK]" and i > 0 and tokens[i - 1]:  # AddedToken("[MASK]", lstrip=True)
                tokens[i - 1] = tokens[i - 1].rstrip()
        out = []
        for i, tok in enumerate(tokens):
            if not tok:
                continue
            if i % 2 == 1:
                out.append(tok)
            else:
                out.extend(self._tokenize(tok))
        return out

    def ids(self, text, with_specials):
        ids = [self.sp.piece_to_id(t) for t in self.tokenize(text)]
        if with_specials:
            ids = [self.sp.piece_to_id("[CLS]")] + ids + [self.sp.piece_to_id("[SEP]")]
        return ids


def read_text(path):
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def source_texts(data, name):
    """The texts of one source: its lines, or for XQuAD each context, question and answer."""
    text = read_text(os.path.join(data, name))
    if name.endswith(".json"):
        out = []
        for article in json.loads(text)["data"]:
            for para in article["paragraphs"]:
                out.append(para["context"])
                for qa in para["qas"]:
                    out.append(qa["question"])
                    out.extend(a["text"] for a in qa["answers"])
        return out
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def xquad_pairs(data, name):
    js = json.loads(read_text(os.path.join(data, name)))
    return [(qa["question"], para["context"]) for a in js["data"] for para in a["paragraphs"] for qa in para["qas"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
    ap.add_argument("--skip-spm", action="store_true",
                    help="reuse the spiece.model-path outputs already in the fixtures (they take longest)")
    args = ap.parse_args()
    data = os.path.abspath(args.data)
    models = sorted(os.path.basename(p) for p in glob.glob(os.path.join(data, "spm", "*.model")))
    os.makedirs(os.path.join(OUT, "digests"), exist_ok=True)
    texts = {name: source_texts(data, name) for name in SOURCES}
    manifest = {"sources": [{"name": n, "texts": len(texts[n])} for n in SOURCES], "models": models,
                "hard_cases": len(HARD_CASES)}
    file_digests = {}
    hard = {"texts": HARD_CASES, "spm": {}, "hf": {}}

    if args.skip_spm:
        old = json.load(open(os.path.join(OUT, "manifest.json")))["file_digests"]
        file_digests.update({k: v for k, v in old.items() if k.endswith(".spm")})
        hard["spm"] = json.load(open(os.path.join(OUT, "hard_cases.json")))["spm"]
    # spiece.model path: every model.
    for model in [] if args.skip_spm else models:
        slow = SlowAlbert(os.path.join(data, "spm", model))
        albert = model == "spiece.model"
        width = 2 if albert else 1
        blob = bytearray()
        file_digests[f"{model}.spm"] = {}
        for name in SOURCES:
            hashes = [fnv1a64(ids_bytes(slow.ids(t, albert))) for t in texts[name]]
            blob += b"".join(struct.pack("<H" if width == 2 else "<B", h & (0xFFFF if width == 2 else 0xFF)) for h in hashes)
            file_digests[f"{model}.spm"][name] = f"{fnv1a64(b''.join(struct.pack('<Q', h) for h in hashes)):016x}"
        open(os.path.join(OUT, "digests", f"{model}.spm.bin"), "wb").write(bytes(blob))
        hard["spm"][model] = [slow.ids(t, albert) for t in HARD_CASES]
        print(model, "spm done", file=sys.stderr)

    # Written early so that a failure below keeps the slow part's results for --skip-spm.
    json.dump(hard, open(os.path.join(OUT, "hard_cases.json"), "w"), ensure_ascii=False, indent=0)
    manifest["file_digests"] = file_digests
    json.dump(manifest, open(os.path.join(OUT, "manifest.json"), "w"), indent=1)

    # tokenizer.json path: transformers' AlbertTokenizer, which only loads ALBERT's model.
    from transformers import AlbertTokenizer
    import transformers
    tmp = tempfile.mkdtemp()
    shutil.copy(os.path.join(data, "spm", "spiece.model"), os.path.join(tmp, "spiece.model"))
    tok = AlbertTokenizer.from_pretrained(tmp)
    tok.save_pretrained(os.path.join(tmp, "saved"))
    tj = json.load(open(os.path.join(tmp, "saved", "tokenizer.json")))
    vocab = tj["model"].pop("vocab")
    vocab_bytes = b"".join(p.encode() + b"\x00" + struct.pack("<f", s) for p, s in vocab)
    tj["model"]["vocab_digest"] = f"{fnv1a64(vocab_bytes):016x}"
    for n in tj["normalizer"]["normalizers"]:
        if "precompiled_charsmap" in n:
            n["precompiled_charsmap"] = f"{fnv1a64(n['precompiled_charsmap'].encode()):016x}"
    json.dump(tj, open(os.path.join(OUT, "spiece.tokenizer_json_summary.json"), "w"), indent=1, ensure_ascii=False)

    blob = bytearray()
    file_digests["spiece.model.hf"] = {}
    for name in SOURCES:
        enc = tok(texts[name], return_offsets_mapping=True)
        hashes = [fnv1a64(hf_bytes(i, [tuple(o) for o in off])) for i, off in zip(enc["input_ids"], enc["offset_mapping"])]
        blob += b"".join(struct.pack("<H", h & 0xFFFF) for h in hashes)
        file_digests["spiece.model.hf"][name] = f"{fnv1a64(b''.join(struct.pack('<Q', h) for h in hashes)):016x}"
    open(os.path.join(OUT, "digests", "spiece.model.hf.bin"), "wb").write(bytes(blob))
    # run_qa-style windows over XQuAD: question + context, only_second, 384 tokens, stride 128.
    qa = {}
    for name in SOURCES:
        if not name.startswith("xquad/"):
            continue
        pairs = xquad_pairs(data, name)
        enc = tok([q for q, _ in pairs], [c for _, c in pairs], truncation="only_second", max_length=384, stride=128,
                  return_overflowing_tokens=True, return_offsets_mapping=True, return_token_type_ids=True)
        per_q = [[] for _ in pairs]
        for row, s in enumerate(enc["overflow_to_sample_mapping"]):
            per_q[s].append(hf_bytes(enc["input_ids"][row], [tuple(o) for o in enc["offset_mapping"][row]])
                            + ids_bytes(enc["token_type_ids"][row]))
        qa[name] = [f"{fnv1a64(b''.join(w)):016x}:{len(w)}" for w in per_q]
    json.dump(qa, open(os.path.join(OUT, "xquad_windows.json"), "w"), indent=0)

    hard["hf"] = []
    for t in HARD_CASES:
        e = tok(t, return_offsets_mapping=True, return_special_tokens_mask=True)
        hard["hf"].append({"ids": e["input_ids"], "tokens": tok.convert_ids_to_tokens(e["input_ids"]),
                           "offsets": [list(o) for o in e["offset_mapping"]],
                           "special_tokens_mask": e["special_tokens_mask"],
                           "decoded": tok.decode(e["input_ids"], skip_special_tokens=True)})
    trunc = []
    for text, pair, kw in TRUNCATION_CASES:
        e = tok(text, pair, return_overflowing_tokens=True, return_offsets_mapping=True,
                return_special_tokens_mask=True, return_token_type_ids=True, return_attention_mask=True, **kw)
        rows = e["input_ids"] if isinstance(e["input_ids"][0], list) else [e["input_ids"]]
        def rows_of(k):
            v = e[k]
            return v if isinstance(v[0], list) else [v]
        trunc.append({"text": text, "pair": pair, "kwargs": kw, "input_ids": rows, "token_type_ids": rows_of("token_type_ids"),
                      "attention_mask": rows_of("attention_mask"), "special_tokens_mask": rows_of("special_tokens_mask"),
                      "offsets": [[list(o) for o in r] for r in rows_of("offset_mapping")]})
    hard["truncation"] = trunc
    json.dump(hard, open(os.path.join(OUT, "hard_cases.json"), "w"), ensure_ascii=False, indent=0)
    manifest["file_digests"] = file_digests
    manifest["versions"] = {"sentencepiece": spm.__version__, "transformers": transformers.__version__,
                            "python": sys.version.split()[0]}
    json.dump(manifest, open(os.path.join(OUT, "manifest.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
