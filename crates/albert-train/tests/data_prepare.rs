//! Corpus preparation: documents, held-out split, shards, manifest, re-run detection, errors.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use albert_train::data::{
    prepare_corpus, read_text, split_documents, DataError, DocBoundary, Manifest, PieceVocab, PrepareConfig,
    PreparedSplit, Split, TextEncoding, TokenDtype,
};
use common::WordVocab;

/// `docs` documents of `sentences` sentences each, blank lines between documents, with
/// sentences hard-wrapped over two lines.
fn corpus(docs: usize, sentences: usize) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut words = Vec::new();
    for d in 0..docs {
        for s in 0..sentences {
            let (a, b) = (format!("D{d}S{s}A"), format!("D{d}S{s}B."));
            text.push_str(&format!("{a}\n{b} "));
            words.extend([a, b]);
        }
        text.push_str("\n\n");
    }
    (text, words)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn config(inputs: Vec<PathBuf>, out: PathBuf) -> PrepareConfig {
    let mut cfg = PrepareConfig::new(inputs, out, "word-vocab");
    cfg.max_seq_length = 64;
    cfg
}

#[test]
fn splits_hold_whole_documents_and_read_back_as_tokenized() {
    let dir = tempfile::tempdir().unwrap();
    let (text, words) = corpus(20, 3);
    let vocab = WordVocab::new(words);
    let input = write(dir.path(), "c.txt", text.as_bytes());
    let mut cfg = config(vec![input], dir.path().join("out"));
    cfg.heldout_fraction = 0.1;
    cfg.shard_tokens = 25; // several shards
    let out = prepare_corpus(&cfg, &vocab).unwrap();
    let m = &out.manifest;
    assert!(!out.reused);
    assert_eq!((m.train.documents, m.heldout.documents), (18, 2));
    assert_eq!(m.train.sentences + m.heldout.sentences, 60);
    assert_eq!(m.train.tokens + m.heldout.tokens, 120);
    assert_eq!(m.token_dtype, TokenDtype::U16);
    assert!(m.train.shards.len() > 1);
    assert_eq!(m.inputs[0].bytes, text.len() as u64);

    // Every document comes back whole, in exactly one split, its sentences tokenized as the
    // vocabulary encodes them.
    let mut seen = Vec::new();
    for split in [Split::Train, Split::HeldOut] {
        let data = PreparedSplit::open(&cfg.out_dir, split).unwrap();
        let docs = data.documents();
        for d in 0..docs.len() {
            let sentences: Vec<Vec<u32>> =
                docs.document(d).iter().map(|&s| data.tokens(s)).collect();
            assert_eq!(sentences.len(), 3);
            let first = &vocab.words[sentences[0][0] as usize - 5];
            let doc_no: usize = first
                .trim_start_matches('D')
                .split('S')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            for (s, ids) in sentences.iter().enumerate() {
                let expected = vocab
                    .encode(&format!("D{doc_no}S{s}A D{doc_no}S{s}B."))
                    .unwrap();
                assert_eq!(ids, &expected);
            }
            seen.push(doc_no);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
}

#[test]
fn rerun_is_a_noop_and_changed_settings_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let (text, words) = corpus(5, 2);
    let vocab = WordVocab::new(words);
    let input = write(dir.path(), "c.txt", text.as_bytes());
    let cfg = config(vec![input.clone()], dir.path().join("out"));
    let first = prepare_corpus(&cfg, &vocab).unwrap();
    let manifest_path = cfg.out_dir.join("manifest.json");
    let stamp = std::fs::metadata(&manifest_path)
        .unwrap()
        .modified()
        .unwrap();
    let again = prepare_corpus(&cfg, &vocab).unwrap();
    assert!(again.reused);
    assert_eq!(again.manifest, first.manifest);
    assert_eq!(
        std::fs::metadata(&manifest_path)
            .unwrap()
            .modified()
            .unwrap(),
        stamp
    );

    // Other settings, other input bytes, or a damaged shard: prepared again.
    let mut longer = cfg.clone();
    longer.max_seq_length = 128;
    let rebuilt = prepare_corpus(&longer, &vocab).unwrap();
    assert!(!rebuilt.reused);
    assert_eq!(rebuilt.manifest.settings.max_seq_length, 128);
    std::fs::write(&input, format!("{text}extra\n")).unwrap();
    assert!(!prepare_corpus(&longer, &vocab).unwrap().reused);
    let shard = cfg
        .out_dir
        .join(&rebuilt.manifest.train.shards[0].tokens_file);
    std::fs::write(&shard, b"xx").unwrap();
    assert!(!prepare_corpus(&longer, &vocab).unwrap().reused);
    assert!(prepare_corpus(&longer, &vocab).unwrap().reused);
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&cfg.out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn gzip_input_equals_plain_and_large_vocab_uses_u32() {
    let dir = tempfile::tempdir().unwrap();
    let (text, words) = corpus(4, 2);
    let mut vocab = WordVocab::new(words);
    vocab.size = 70_000;
    let plain = write(dir.path(), "c.txt", text.as_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gzipped = write(dir.path(), "c.txt.gz", &gz.finish().unwrap());
    assert_eq!(
        read_text(&gzipped, TextEncoding::Utf8).unwrap(),
        read_text(&plain, TextEncoding::Utf8).unwrap()
    );
    let mut a = config(vec![plain], dir.path().join("a"));
    let mut b = config(vec![gzipped], dir.path().join("b"));
    a.heldout_fraction = 0.0;
    b.heldout_fraction = 0.0;
    let (ma, mb) = (
        prepare_corpus(&a, &vocab).unwrap().manifest,
        prepare_corpus(&b, &vocab).unwrap().manifest,
    );
    assert_eq!(ma.token_dtype, TokenDtype::U32);
    assert_eq!(
        (ma.train.tokens, ma.train.sentences),
        (mb.train.tokens, mb.train.sentences)
    );
    let ta = std::fs::read(a.out_dir.join(&ma.train.shards[0].tokens_file)).unwrap();
    let tb = std::fs::read(b.out_dir.join(&mb.train.shards[0].tokens_file)).unwrap();
    assert_eq!(ta, tb);
    assert_eq!(ta.len() as u64, 4 * ma.train.tokens);
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let vocab = WordVocab::new(["a"]);
    let missing = dir.path().join("missing.txt");
    let err =
        prepare_corpus(&config(vec![missing.clone()], dir.path().join("o")), &vocab).unwrap_err();
    assert!(
        matches!(&err, DataError::Io { path, .. } if path == &missing),
        "{err}"
    );

    // Strict UTF-8 names the file and offset; the default falls back to Latin-1 and says so.
    let latin1 = write(dir.path(), "latin1.txt", b"caf\xe9 au lait\n");
    let mut strict = config(vec![latin1.clone()], dir.path().join("o"));
    strict.encoding = TextEncoding::Utf8;
    let err = prepare_corpus(&strict, &vocab).unwrap_err();
    assert!(matches!(err, DataError::NotUtf8 { offset: 3, .. }), "{err}");
    assert!(err.to_string().contains("latin1.txt"));
    let lenient = prepare_corpus(&config(vec![latin1], dir.path().join("o")), &vocab).unwrap();
    assert!(lenient.manifest.inputs[0].latin1);

    let ok = write(dir.path(), "ok.txt", b"a a.\n");
    let mut cfg = config(vec![ok], dir.path().join("o"));
    cfg.heldout_fraction = 1.0;
    assert!(matches!(
        prepare_corpus(&cfg, &vocab),
        Err(DataError::InvalidConfig(_))
    ));
    cfg.heldout_fraction = 0.0;
    cfg.inputs.clear();
    assert!(matches!(
        prepare_corpus(&cfg, &vocab),
        Err(DataError::InvalidConfig(_))
    ));
}

/// A manifest naming a shard file by a path (`../../secret`) is refused rather than followed out of the folder.
#[test]
fn a_manifest_cannot_name_files_outside_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (text, words) = corpus(4, 2);
    let input = write(dir.path(), "c.txt", text.as_bytes());
    let out = dir.path().join("out");
    prepare_corpus(&config(vec![input], out.clone()), &WordVocab::new(words)).unwrap();
    let path = out.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["train"]["shards"][0]["tokens_file"] = "../../secret".into();
    std::fs::write(&path, manifest.to_string()).unwrap();
    let err = Manifest::load(&out).unwrap_err().to_string();
    assert!(err.contains("manifest.json") && err.contains("`../../secret` is not a plain file name"), "{err}");
}

#[test]
fn document_boundaries() {
    let text = "First para\nwrapped here.\n\nSecond para.\n";
    let blank = split_documents(text, DocBoundary::BlankLine);
    assert_eq!(blank.len(), 2);
    assert_eq!(blank[0].sentences, ["First para wrapped here."]);
    let file = split_documents(text, DocBoundary::File);
    assert_eq!(file.len(), 1);
    assert_eq!(
        file[0].sentences,
        ["First para wrapped here.", "Second para."]
    );
}

/// The shared corpus (../shared/data relative to the repository root): skipped with a note when
/// absent, a failure under CI=true.
fn shared_corpus(rel: &str) -> Option<PathBuf> {
    albert_testkit::shared_data(&format!("corpus/{rel}"))
}

#[test]
fn wikitext2_valid_and_test_hold_60_articles_each() {
    // WikiText-2 has 600/60/60 articles (Merity et al. 2016, table 1). Two `= … =` formula
    // lines inside the test split's "Constant k filter" article are not headings.
    for file in [
        "wikitext-2/wiki.valid.tokens",
        "wikitext-2/wiki.test.tokens",
    ] {
        let Some(path) = shared_corpus(file) else {
            return;
        };
        let docs = split_documents(
            &read_text(&path, TextEncoding::Utf8).unwrap().text,
            DocBoundary::WikitextHeading,
        );
        assert_eq!(docs.len(), 60, "{file}");
        assert!(docs
            .iter()
            .all(|d| d.sentences.iter().all(|s| !s.starts_with("= "))));
    }
}

#[test]
fn latin1_gutenberg_books_decode() {
    // chesterton-ball.txt has ISO 8859-1 bytes (0xE8, 0xE9 in "Bruneti\xe8re, Copp\xe9e").
    let Some(path) = shared_corpus("gutenberg_nltk/chesterton-ball.txt") else {
        return;
    };
    assert!(matches!(
        read_text(&path, TextEncoding::Utf8),
        Err(DataError::NotUtf8 {
            offset: 227_337,
            ..
        })
    ));
    let decoded = read_text(&path, TextEncoding::Utf8OrLatin1).unwrap();
    assert!(decoded.latin1 && decoded.text.contains("Brunetière, Coppée"));
}

#[test]
fn gutenberg_paragraphs_are_joined() {
    let Some(path) = shared_corpus("gutenberg_nltk/carroll-alice.txt") else {
        return;
    };
    let docs = split_documents(
        &read_text(&path, TextEncoding::Utf8).unwrap().text,
        DocBoundary::File,
    );
    assert_eq!(docs.len(), 1);
    // The book's first paragraph (five hard-wrapped lines in the file) is one sentence.
    let s = &docs[0].sentences;
    let i = s
        .iter()
        .position(|x| x.starts_with("Alice was beginning"))
        .unwrap();
    assert_eq!(
        s[i],
        "Alice was beginning to get very tired of sitting by her sister on the bank, and of having \
         nothing to do: once or twice she had peeped into the book her sister was reading, but it had \
         no pictures or conversations in it, 'and what is the use of a book,' thought Alice 'without \
         pictures or conversation?'"
    );
    assert!(s[i + 1].starts_with("So she was considering"));
}

/// Each whitespace word becomes one `▁`-piece id in 5..30000 (FNV-1a hash): a stand-in for the
/// SentencePiece tokenizer with ALBERT's vocabulary size.
struct HashedWords;

impl PieceVocab for HashedWords {
    fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        Ok(text
            .split_whitespace()
            .map(|w| {
                let h = w.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
                });
                5 + (h % 29_995) as u32
            })
            .collect())
    }
    fn piece(&self, id: u32) -> Option<String> {
        Some(format!("▁{id}"))
    }
    fn vocab_size(&self) -> usize {
        30_000
    }
    fn special_ids(&self) -> albert_train::data::SpecialIds {
        common::SPECIAL
    }
}

#[test]
fn wikitext2_prepares_into_whole_article_splits() {
    let (Some(valid), Some(test)) = (
        shared_corpus("wikitext-2/wiki.valid.tokens"),
        shared_corpus("wikitext-2/wiki.test.tokens"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = PrepareConfig::new(
        vec![valid.clone(), test],
        dir.path().join("out"),
        "hashed-words",
    );
    cfg.doc_boundary = DocBoundary::WikitextHeading;
    let m = prepare_corpus(&cfg, &HashedWords).unwrap().manifest;
    // 60 + 60 articles; 5% held out is round(6.0) = 6 whole articles.
    assert_eq!((m.train.documents, m.heldout.documents), (114, 6));
    assert_eq!(m.token_dtype, TokenDtype::U16);
    // Tokens are the words of every line but headings; lines 2149 and 2151 of the test split
    // look like headings but are formulas inside a paragraph.
    let body_words = |path: &Path, formula_lines: &[usize]| -> u64 {
        read_text(path, TextEncoding::Utf8)
            .unwrap()
            .text
            .lines()
            .enumerate()
            .filter(|(i, l)| {
                let t = l.trim();
                !(t.starts_with("= ") && t.ends_with(" =")) || formula_lines.contains(&(i + 1))
            })
            .map(|(_, l)| l.split_whitespace().count() as u64)
            .sum()
    };
    let words = body_words(&valid, &[]) + body_words(&cfg.inputs[1], &[2149, 2151]);
    assert_eq!(m.train.tokens + m.heldout.tokens, words);
    assert_eq!(
        m.inputs[0].sha256,
        "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"
    );
    let heldout = PreparedSplit::open(&cfg.out_dir, Split::HeldOut).unwrap();
    assert_eq!(heldout.documents().len(), 6);
}

#[test]
fn wikitext_style_sentences() {
    use albert_train::data::split_sentences;
    // Pre-tokenized text: terminators stand alone; "H." is an initial, "@.@" a decimal point.
    let p = "It is closely related to the American lobster , H. americanus . It may grow to 60 @.@ 5 cm . \
             \" Lobster red \" is a colour ! Why ? ( Because . )";
    assert_eq!(
        split_sentences(p),
        [
            "It is closely related to the American lobster , H. americanus .",
            "It may grow to 60 @.@ 5 cm .",
            "\" Lobster red \" is a colour !",
            "Why ?",
            "( Because . )",
        ]
    );
}
