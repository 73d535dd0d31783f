//! Parity of both tokenizer paths with their references over the fixed parity set (see
//! tests/fixtures/tokenizer/README.md): every line of the corpus books, GLUE SST-2/MRPC/RTE dev,
//! XQuAD texts in six languages, and the hand-made hard cases, for every SentencePiece model in
//! ../shared/data/spm. Expected values come from scripts/reference/tokenizer_parity.py.

use std::path::{Path, PathBuf};

use albert::tokenizer::{
    AlbertTokenizer, Backend, EncodeOptions, Encoding, Padding, TokenizerConfig, Truncation,
    TruncationDirection, TruncationStrategy,
};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/tokenizer")
}

/// ../shared/data, or `None` (a recorded skip) when its spiece.model is absent outside CI.
fn data_dir() -> Option<PathBuf> {
    albert_testkit::shared_data("spm/spiece.model")?;
    albert_testkit::shared_data("")
}

/// Fails with every mismatch, one a line.
#[track_caller]
fn assert_no_mismatches(mismatches: &[String]) {
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn ids_bytes(ids: &[u32]) -> Vec<u8> {
    ids.iter().flat_map(|i| i.to_le_bytes()).collect()
}

fn hf_bytes(e: &Encoding) -> Vec<u8> {
    let mut b = ids_bytes(&e.ids);
    b.extend([0xff; 4]);
    let flat: Vec<u32> = e
        .offsets
        .iter()
        .flat_map(|&(a, b)| [a as u32, b as u32])
        .collect();
    b.extend(ids_bytes(&flat));
    b
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn read_text(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Mirrors the reference: UTF-8, else Latin-1 (one file of the corpus is Latin-1).
    String::from_utf8(raw.clone()).unwrap_or_else(|_| raw.iter().map(|&b| b as char).collect())
}

/// The texts of one source, as the reference script reads them.
fn source_texts(data: &Path, name: &str) -> Vec<String> {
    let text = read_text(&data.join(name));
    if name.ends_with(".json") {
        let v: Value = serde_json::from_str(&text).unwrap();
        let mut out = Vec::new();
        for article in v["data"].as_array().unwrap() {
            for para in article["paragraphs"].as_array().unwrap() {
                out.push(para["context"].as_str().unwrap().to_string());
                for qa in para["qas"].as_array().unwrap() {
                    out.push(qa["question"].as_str().unwrap().to_string());
                    for a in qa["answers"].as_array().unwrap() {
                        out.push(a["text"].as_str().unwrap().to_string());
                    }
                }
            }
        }
        return out;
    }
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

struct Manifest {
    sources: Vec<(String, usize)>,
    models: Vec<String>,
    file_digests: Value,
}

fn manifest() -> Manifest {
    let m = json(&fixtures().join("manifest.json"));
    Manifest {
        sources: m["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["texts"].as_u64().unwrap() as usize,
                )
            })
            .collect(),
        models: m["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect(),
        file_digests: m["file_digests"].clone(),
    }
}

/// Compares per-text digests of `encode(text)` with the reference's; returns failures and prints
/// counts per source.
fn check_digests(
    tok: &AlbertTokenizer,
    data: &Path,
    key: &str,
    width: usize,
    add_special_tokens: bool,
    digest: impl Fn(&Encoding) -> u64 + Sync,
) -> Vec<String> {
    let m = manifest();
    let blob = std::fs::read(fixtures().join(format!("digests/{key}.bin"))).unwrap();
    let opts = EncodeOptions {
        add_special_tokens,
        ..Default::default()
    };
    let (mut pos, mut failures, mut total, mut ok_total) = (0, Vec::new(), 0, 0);
    for (name, n) in &m.sources {
        let texts = source_texts(data, name);
        assert_eq!(
            texts.len(),
            *n,
            "{name}: the parity set changed since the reference ran"
        );
        let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (t.as_str(), None)).collect();
        let encs = tok.encode_batch(&inputs, &opts).unwrap();
        let hashes: Vec<u64> = encs.iter().map(&digest).collect();
        let mut ok = 0;
        for (line, h) in hashes.iter().enumerate() {
            let want = if width == 2 {
                u64::from(u16::from_le_bytes([blob[pos], blob[pos + 1]]))
            } else {
                u64::from(blob[pos])
            };
            pos += width;
            if h & ((1 << (8 * width)) - 1) == want {
                ok += 1;
            } else if failures.len() < 20 {
                let t: String = texts[line].chars().take(80).collect();
                failures.push(format!(
                    "{key} {name}:{}: {t:?} -> {:?}",
                    line + 1,
                    encs[line].ids
                ));
            }
        }
        let file_hash = fnv1a64(
            &hashes
                .iter()
                .flat_map(|h| h.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
        let want_file = m.file_digests[key][name].as_str().unwrap();
        if format!("{file_hash:016x}") != want_file && ok == texts.len() {
            failures.push(format!(
                "{key} {name}: file digest differs although every line digest matched"
            ));
        }
        eprintln!("{key} {name}: {ok}/{} texts agree", texts.len());
        total += texts.len();
        ok_total += ok;
    }
    assert_eq!(pos, blob.len(), "{key}: digest file length");
    eprintln!("{key}: {ok_total}/{total} texts agree");
    failures
}

#[test]
fn spm_path_matches_sentencepiece_with_albert_preprocessing_on_every_model() {
    let Some(data) = data_dir() else { return };
    let mut failures = Vec::new();
    for model in manifest().models {
        let tok = AlbertTokenizer::from_spm_file(
            &data.join("spm").join(&model),
            TokenizerConfig::default(),
        )
        .unwrap();
        assert_eq!(tok.backend(), Backend::SentencePiece);
        let albert = model == "spiece.model";
        failures.extend(check_digests(
            &tok,
            &data,
            &format!("{model}.spm"),
            if albert { 2 } else { 1 },
            albert,
            |e| fnv1a64(&ids_bytes(&e.ids)),
        ));
    }
    assert_no_mismatches(&failures);
}

/// The tokenizer.json our `save` writes for ALBERT's spiece.model.
fn hf_tokenizer(data: &Path) -> (AlbertTokenizer, tempdir::Dir) {
    let spm =
        AlbertTokenizer::from_spm_file(&data.join("spm/spiece.model"), TokenizerConfig::default())
            .unwrap();
    let dir = tempdir::Dir::new("hf");
    spm.save(dir.path()).unwrap();
    let tok = AlbertTokenizer::from_path(dir.path()).unwrap();
    assert_eq!(tok.backend(), Backend::HuggingFace);
    (tok, dir)
}

#[test]
fn saved_tokenizer_json_matches_transformers_conversion() {
    let Some(data) = data_dir() else { return };
    let (_, dir) = hf_tokenizer(&data);
    let mut ours = json(&dir.path().join("tokenizer.json"));
    let vocab = ours["model"]
        .as_object_mut()
        .unwrap()
        .remove("vocab")
        .unwrap();
    let mut vb = Vec::new();
    for e in vocab.as_array().unwrap() {
        vb.extend(e[0].as_str().unwrap().as_bytes());
        vb.push(0);
        vb.extend((e[1].as_f64().unwrap() as f32).to_le_bytes());
    }
    ours["model"]["vocab_digest"] = Value::String(format!("{:016x}", fnv1a64(&vb)));
    for n in ours["normalizer"]["normalizers"].as_array_mut().unwrap() {
        if let Some(c) = n.get_mut("precompiled_charsmap") {
            *c = Value::String(format!("{:016x}", fnv1a64(c.as_str().unwrap().as_bytes())));
        }
    }
    assert_eq!(
        ours,
        json(&fixtures().join("spiece.tokenizer_json_summary.json"))
    );
}

#[test]
fn hf_path_matches_transformers_ids_and_offsets() {
    let Some(data) = data_dir() else { return };
    let (tok, _dir) = hf_tokenizer(&data);
    let failures = check_digests(&tok, &data, "spiece.model.hf", 2, true, |e| {
        fnv1a64(&hf_bytes(e))
    });
    assert_no_mismatches(&failures);
}

#[test]
fn hf_path_matches_run_qa_windows_on_xquad() {
    let Some(data) = data_dir() else { return };
    let (tok, _dir) = hf_tokenizer(&data);
    let expected = json(&fixtures().join("xquad_windows.json"));
    let opts = EncodeOptions {
        truncation: Some(Truncation {
            max_length: 384,
            stride: 128,
            strategy: TruncationStrategy::OnlySecond,
            direction: TruncationDirection::Right,
        }),
        ..Default::default()
    };
    let mut bad = Vec::new();
    for (name, want) in expected.as_object().unwrap() {
        let v: Value = serde_json::from_str(&read_text(&data.join(name))).unwrap();
        let mut pairs = Vec::new();
        for a in v["data"].as_array().unwrap() {
            for p in a["paragraphs"].as_array().unwrap() {
                for qa in p["qas"].as_array().unwrap() {
                    pairs.push((
                        qa["question"].as_str().unwrap(),
                        Some(p["context"].as_str().unwrap()),
                    ));
                }
            }
        }
        let encs = tok.encode_batch(&pairs, &opts).unwrap();
        let want = want.as_array().unwrap();
        assert_eq!(encs.len(), want.len());
        let mut ok = 0;
        for (i, e) in encs.iter().enumerate() {
            let windows: Vec<&Encoding> = std::iter::once(e).chain(&e.overflowing).collect();
            let bytes: Vec<u8> = windows
                .iter()
                .flat_map(|w| [hf_bytes(w), ids_bytes(&w.type_ids)].concat())
                .collect();
            let got = format!("{:016x}:{}", fnv1a64(&bytes), windows.len());
            if got == want[i].as_str().unwrap() {
                ok += 1;
            } else {
                bad.push(format!("{name} question {i}"));
            }
        }
        eprintln!(
            "{name}: {ok}/{} question+context window sets agree",
            encs.len()
        );
    }
    assert!(
        bad.is_empty(),
        "{} mismatches: {:?}",
        bad.len(),
        &bad[..bad.len().min(20)]
    );
}

fn hard_cases() -> Value {
    json(&fixtures().join("hard_cases.json"))
}

#[test]
fn hard_cases_spm_path_on_every_model() {
    let Some(data) = data_dir() else { return };
    let h = hard_cases();
    let texts: Vec<&str> = h["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(texts.len() >= 200);
    let mut bad = Vec::new();
    for (model, want) in h["spm"].as_object().unwrap() {
        let tok = AlbertTokenizer::from_spm_file(
            &data.join("spm").join(model),
            TokenizerConfig::default(),
        )
        .unwrap();
        let opts = EncodeOptions {
            add_special_tokens: model == "spiece.model",
            ..Default::default()
        };
        let mut ok = 0;
        for (t, w) in texts.iter().zip(want.as_array().unwrap()) {
            let got = tok.encode(t, None, &opts).unwrap().ids;
            let w: Vec<u32> = w
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            if got == w {
                ok += 1;
            } else {
                bad.push(format!("{model} {t:?}: got {got:?}, want {w:?}"));
            }
        }
        eprintln!("hard cases {model} (spm path): {ok}/{}", texts.len());
    }
    assert_no_mismatches(&bad);
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn pairs(v: &Value) -> Vec<(usize, usize)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o[0].as_u64().unwrap() as usize,
                o[1].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

/// The hard-case texts, each with transformers' output for it (tokenizer.json path).
fn hf_hard_cases(h: &Value) -> impl Iterator<Item = (&str, &Value)> {
    h["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).zip(h["hf"].as_array().unwrap())
}

#[test]
fn hard_cases_hf_path_ids_tokens_offsets_and_decoding() {
    let Some(data) = data_dir() else { return };
    let (tok, _dir) = hf_tokenizer(&data);
    let h = hard_cases();
    let mut bad = Vec::new();
    for (t, w) in hf_hard_cases(&h) {
        let e = tok.encode(t, None, &EncodeOptions::default()).unwrap();
        let tokens: Vec<String> = w["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        let decoded = tok.decode(&e.ids, true).unwrap();
        if e.ids != u32s(&w["ids"])
            || e.tokens != tokens
            || e.offsets != pairs(&w["offsets"])
            || e.special_tokens_mask != u32s(&w["special_tokens_mask"])
            || decoded != w["decoded"].as_str().unwrap()
        {
            bad.push(format!(
                "{t:?}: got {:?} {:?} {decoded:?}, want {w}",
                e.tokens, e.offsets
            ));
        }
    }
    eprintln!(
        "hard cases (tokenizer.json path): {}/{}",
        h["texts"].as_array().unwrap().len() - bad.len(),
        h["texts"].as_array().unwrap().len()
    );
    assert_no_mismatches(&bad);
}

#[test]
fn truncation_stride_and_padding_match_transformers() {
    let Some(data) = data_dir() else { return };
    let (tok, _dir) = hf_tokenizer(&data);
    for case in hard_cases()["truncation"].as_array().unwrap() {
        let kw = &case["kwargs"];
        let strategy = match kw["truncation"].as_str() {
            Some("only_first") => TruncationStrategy::OnlyFirst,
            Some("only_second") => TruncationStrategy::OnlySecond,
            _ => TruncationStrategy::LongestFirst,
        };
        let max_length = kw["max_length"].as_u64().map(|m| m as usize);
        let opts = EncodeOptions {
            add_special_tokens: true,
            truncation: kw
                .get("truncation")
                .and(max_length)
                .map(|max_length| Truncation {
                    max_length,
                    stride: kw["stride"].as_u64().unwrap_or(0) as usize,
                    strategy,
                    direction: TruncationDirection::Right,
                }),
            padding: if kw["padding"].as_str() == Some("max_length") {
                Padding::MaxLength(max_length.unwrap())
            } else {
                Padding::None
            },
            pad_to_multiple_of: kw["pad_to_multiple_of"].as_u64().map(|m| m as usize),
        };
        let e = tok
            .encode(case["text"].as_str().unwrap(), case["pair"].as_str(), &opts)
            .unwrap();
        let rows: Vec<&Encoding> = std::iter::once(&e).chain(&e.overflowing).collect();
        let field = |k: &str| {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(u32s)
                .collect::<Vec<_>>()
        };
        let column = |pick: fn(&Encoding) -> &Vec<u32>| -> Vec<Vec<u32>> {
            rows.iter().map(|r| pick(r).clone()).collect()
        };
        for (name, ours) in [
            ("input_ids", column(|r| &r.ids)),
            ("token_type_ids", column(|r| &r.type_ids)),
            ("attention_mask", column(|r| &r.attention_mask)),
            ("special_tokens_mask", column(|r| &r.special_tokens_mask)),
        ] {
            assert_eq!(ours, field(name), "{name}: {case}");
        }
        let offs: Vec<Vec<(usize, usize)>> = case["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(pairs)
            .collect();
        assert_eq!(
            rows.iter().map(|r| r.offsets.clone()).collect::<Vec<_>>(),
            offs,
            "{case}"
        );
    }
}

/// A self-deleting temporary directory.
mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "albert-tok-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Offsets on the spiece.model path follow transformers' conventions (leading `▁` excluded, a lone
/// `▁` spans the next character): wherever both paths give the same ids, offsets agree too, except
/// where normalization merges or deletes characters. There transformers narrows the span (two
/// backticks → `"` map to the second backtick only; a deleted trailing mark or variation selector
/// is left out), while the spiece.model path spans every input character the token came from.
#[test]
fn spm_path_offsets_agree_with_transformers_where_ids_agree() {
    const NARROWER_IN_TRANSFORMERS: [&str; 7] = [
        "``quoted''",
        "``",
        "''",
        "```triple'''",
        "He said ``hi'' and 'bye'.",
        "हिन्दी",
        "❤\u{fe0f}",
    ];
    let Some(data) = data_dir() else { return };
    let spm =
        AlbertTokenizer::from_spm_file(&data.join("spm/spiece.model"), TokenizerConfig::default())
            .unwrap();
    let h = hard_cases();
    let (mut same_ids, mut bad, mut narrower) = (0, Vec::new(), Vec::new());
    for (t, w) in hf_hard_cases(&h) {
        let e = spm.encode(t, None, &EncodeOptions::default()).unwrap();
        if e.ids == u32s(&w["ids"]) {
            same_ids += 1;
            if e.offsets == pairs(&w["offsets"]) {
                continue;
            }
            if NARROWER_IN_TRANSFORMERS.contains(&t) {
                narrower.push(t);
            } else {
                bad.push(format!("{t:?}: got {:?}, want {}", e.offsets, w["offsets"]));
            }
        }
    }
    let agree = same_ids - bad.len() - narrower.len();
    eprintln!(
        "spm-path offsets: {agree}/{same_ids} hard cases with equal ids also have equal offsets"
    );
    assert_no_mismatches(&bad);
    assert_eq!(
        narrower, NARROWER_IN_TRANSFORMERS,
        "the documented offset differences changed"
    );
}

/// `train_unigram` + `save`: the spiece.model and tokenizer.json it writes load back and give the
/// same ids on both paths (two independent implementations: ours and the tokenizers crate).
/// scripts/reference/check_trained_vocab.py checks the same files with sentencepiece and
/// transformers' AutoTokenizer.
#[test]
fn trained_vocabulary_loads_on_both_paths_with_identical_ids() {
    let Some(data) = data_dir() else { return };
    let corpus = data.join("corpus/botchan/botchan.txt");
    let opts = albert::tokenizer::TrainOptions {
        corpus: vec![corpus.clone()],
        vocab_size: 1000,
        ..Default::default()
    };
    let proto = albert::tokenizer::train_unigram(&opts).unwrap();
    assert_eq!(proto.pieces.len(), 1000);
    let names: Vec<&str> = proto.pieces[..5].iter().map(|p| p.piece.as_str()).collect();
    assert_eq!(names, ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]);
    let dir = tempdir::Dir::new("train");
    AlbertTokenizer::from_model_proto(proto, TokenizerConfig::default())
        .unwrap()
        .save(dir.path())
        .unwrap();
    let spm = AlbertTokenizer::from_dir_with(dir.path(), Backend::SentencePiece).unwrap();
    let hf = AlbertTokenizer::from_dir_with(dir.path(), Backend::HuggingFace).unwrap();
    assert_eq!((spm.vocab_size(), hf.vocab_size()), (1000, 1000));
    let texts = source_texts(&data, "corpus/botchan/botchan.txt");
    let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (t.as_str(), None)).collect();
    let a = spm
        .encode_batch(&inputs, &EncodeOptions::default())
        .unwrap();
    let b = hf.encode_batch(&inputs, &EncodeOptions::default()).unwrap();
    let same = a.iter().zip(&b).filter(|(x, y)| x.ids == y.ids).count();
    eprintln!(
        "trained vocabulary: {same}/{} botchan lines give identical ids on both paths",
        texts.len()
    );
    assert_eq!(same, texts.len());
}

/// A cased vocabulary (`vocab train --cased`) stays cased however it is named: by its spiece.model
/// file (the tokenizer_config.json beside it says so), its folder, or its tokenizer.json (whose
/// normalizer says so).
#[test]
fn cased_vocabulary_is_not_lowercased_on_any_path() {
    let Some(data) = data_dir() else { return };
    let opts = albert::tokenizer::TrainOptions {
        corpus: vec![data.join("corpus/botchan/botchan.txt")],
        vocab_size: 800,
        do_lower_case: false,
        ..Default::default()
    };
    let cased = TokenizerConfig {
        do_lower_case: false,
        keep_accents: false,
    };
    let proto = albert::tokenizer::train_unigram(&opts).unwrap();
    let dir = tempdir::Dir::new("cased");
    AlbertTokenizer::from_model_proto(proto, cased)
        .unwrap()
        .save(dir.path())
        .unwrap();
    let opts = EncodeOptions {
        add_special_tokens: false,
        ..Default::default()
    };
    for path in [
        dir.path().join("spiece.model"),
        dir.path().to_path_buf(),
        dir.path().join("tokenizer.json"),
    ] {
        let tok = AlbertTokenizer::from_path(&path).unwrap();
        let e = tok.encode("Botchan", None, &opts).unwrap();
        assert_eq!(e.tokens.concat(), "▁Botchan", "{}", path.display());
    }
    // Saved again from its tokenizer.json, as `export` and fine-tuning do, it is still declared cased
    // (transformers obeys tokenizer_config.json's do_lower_case).
    let again = tempdir::Dir::new("cased-again");
    AlbertTokenizer::from_path(dir.path().join("tokenizer.json"))
        .unwrap()
        .save(again.path())
        .unwrap();
    let saved = TokenizerConfig::from_file(&again.path().join("tokenizer_config.json")).unwrap();
    assert_eq!(saved, cased);
}

/// transformers' own ALBERT test (tests/models/albert/test_tokenization_albert.py) on this
/// spiece.model with `keep_accents=True`: its expected pieces and ids.
#[test]
fn transformers_albert_unit_test_values() {
    let Some(data) = data_dir() else { return };
    let cfg = TokenizerConfig {
        do_lower_case: true,
        keep_accents: true,
    };
    let tok = AlbertTokenizer::from_spm_file(&data.join("spm/spiece.model"), cfg).unwrap();
    let opts = EncodeOptions {
        add_special_tokens: false,
        ..Default::default()
    };
    assert_eq!(
        tok.encode("This is a test", None, &opts).unwrap().ids,
        [48, 25, 21, 1289]
    );
    let e = tok
        .encode("I was born in 92000, and this is falsé.", None, &opts)
        .unwrap();
    assert_eq!(
        e.ids,
        [31, 23, 386, 19, 561, 3050, 15, 17, 48, 25, 8256, 18, 1, 9]
    );
    assert_eq!(
        e.tokens,
        [
            "▁i", "▁was", "▁born", "▁in", "▁9", "2000", ",", "▁and", "▁this", "▁is", "▁fal", "s",
            "<unk>", "."
        ]
    );
    assert_eq!(tok.vocab_size(), 30_000);
    assert_eq!(tok.id_to_token(29_999), Some("▁eloquent"));
}

#[test]
fn bad_inputs_give_errors() {
    use albert::tokenizer::TokenizerError;
    let missing = AlbertTokenizer::from_path("/nonexistent/spiece.model").unwrap_err();
    assert!(matches!(missing, TokenizerError::NotFound(_)), "{missing}");
    let dir = tempdir::Dir::new("bad");
    let junk = dir.path().join("spiece.model");
    std::fs::write(&junk, b"\x0a\xff\xff").unwrap();
    assert!(matches!(
        AlbertTokenizer::from_path(&junk).unwrap_err(),
        TokenizerError::InvalidModel(_)
    ));
    let json = dir.path().join("tokenizer.json");
    std::fs::write(&json, b"{not json").unwrap();
    assert!(matches!(
        AlbertTokenizer::from_path(&json).unwrap_err(),
        TokenizerError::InvalidJson { .. }
    ));
    let tok = AlbertTokenizer::from_vocab(&[("▁a", -1.0)]).unwrap();
    assert!(matches!(
        tok.decode(&[99], false).unwrap_err(),
        TokenizerError::IdOutOfRange { id: 99, .. }
    ));
    // A stride that leaves no new token per window, and a length that leaves no room beside [CLS] and [SEP].
    for (text, max_length, stride) in [("a a a a a a", 4, 2), ("a", 1, 0)] {
        let opts = EncodeOptions {
            truncation: Some(Truncation {
                max_length,
                stride,
                strategy: TruncationStrategy::LongestFirst,
                direction: TruncationDirection::Right,
            }),
            ..Default::default()
        };
        assert!(matches!(
            tok.encode(text, None, &opts).unwrap_err(),
            TokenizerError::InvalidOptions(_)
        ));
    }
}

/// A checkpoint directory's tokenizer_config.json overrides ALBERT's defaults on the spiece.model
/// path (expected ids: transformers' ALBERT test, with and without `keep_accents`).
#[test]
fn tokenizer_config_overrides_defaults() {
    let Some(data) = data_dir() else { return };
    let dir = tempdir::Dir::new("cfg");
    std::fs::copy(
        data.join("spm/spiece.model"),
        dir.path().join("spiece.model"),
    )
    .unwrap();
    let opts = EncodeOptions {
        add_special_tokens: false,
        ..Default::default()
    };
    let bare = AlbertTokenizer::from_path(dir.path()).unwrap();
    assert_eq!(
        bare.encode("falsé.", None, &opts).unwrap().tokens,
        ["▁false", "."]
    );
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"keep_accents": true}"#,
    )
    .unwrap();
    let kept = AlbertTokenizer::from_path(dir.path()).unwrap();
    assert_eq!(
        kept.encode("falsé.", None, &opts).unwrap().ids,
        [8256, 18, 1, 9]
    );
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"do_lower_case": "yes"}"#,
    )
    .unwrap();
    assert!(AlbertTokenizer::from_path(dir.path()).is_err());
}
