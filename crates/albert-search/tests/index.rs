//! The index end to end on a handful of documents, with the tiny random checkpoints of the pipeline fixtures
//! (tests/fixtures/pipelines: `pretraining` embeds, `sentiment` reranks): build, every search mode against its
//! reference, add / remove / sync, reranking, and damaged or foreign indexes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use albert::pipeline::embed::{embed, Pooling};
use albert::pipeline::{PipelineModel, PipelineOptions, Task};
use albert_search::{
    reciprocal_rank_fusion, ChunkSettings, Embedder, Index, Reranker, SearchError, SearchMode, SearchOptions,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines").join(name)
}

fn embedder() -> Embedder {
    Embedder::load(fixture("pretraining").to_str().unwrap()).unwrap()
}

/// Three short JSONL documents whose BM25 scores are derived by hand below, a Markdown and a text file, and a
/// SQuAD file of two paragraphs.
fn corpus(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("animals.jsonl"),
        concat!(
            "{\"id\": \"z1\", \"text\": \"the zebra runs\"}\n",
            "{\"id\": \"z2\", \"text\": \"a zebra and another zebra sleep\"}\n",
            "{\"id\": 3, \"text\": \"cats sleep all day long\"}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("guide.md"), "# Brewing guide\n\nGrind the beans, heat the water, pour slowly.\n").unwrap();
    std::fs::write(dir.join("sub/ships.txt"), "The harbour fills with ships at dawn; sailors mend the nets.").unwrap();
    std::fs::write(
        dir.join("sub/article.json"),
        r#"{"version": "1.1", "data": [{"title": "Rivers", "paragraphs": [
            {"context": "The Rhine flows north to the sea.", "qas": []},
            {"context": "The Danube crosses ten countries.", "qas": []}]}]}"#,
    )
    .unwrap();
    // Neither hidden files nor other extensions are read from folders.
    std::fs::write(dir.join(".hidden.txt"), "secret zebra").unwrap();
    std::fs::write(dir.join("image.png"), [0u8, 1, 2]).unwrap();
}

fn opts(mode: SearchMode, k: usize) -> SearchOptions {
    SearchOptions { mode, k, ..SearchOptions::default() }
}

/// Every file of `dir` with its bytes: what "nothing was changed" compares.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn build_reads_every_format_and_each_mode_ranks_as_its_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    corpus(&docs);
    let out = tmp.path().join("index");
    let e = embedder();
    let (index, report) = Index::build(&out, &[docs.clone()], &e, ChunkSettings::default(), &mut ()).unwrap();
    assert_eq!(report.added.len(), 4, "{report:?}");
    let info = index.info().unwrap();
    // 3 JSONL lines + 1 Markdown + 1 text + 2 SQuAD paragraphs, each shorter than a passage.
    assert_eq!((info.files, info.documents, info.passages), (4, 7, 7));
    drop(index);
    let index = Index::open(&out).unwrap();

    // BM25, by hand: "zebra" is in 2 of the N = 7 passages' texts (and no title); the texts are 3, 6, 5, 10
    // (the Markdown: "#" is no token), 11, 7 and 5 words long. tantivy's BM25 (k1 = 1.2, b = 0.75):
    // idf = ln(1 + (N - n + 0.5) / (n + 0.5)), score = idf (k1 + 1) tf / (tf + k1 (1 - b + b dl / avgdl)).
    let hits = index.search("zebra", &opts(SearchMode::Bm25, 10), None, None).unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.passage.source.doc_id.as_str()).collect();
    assert_eq!(ids, ["z2", "z1"]);
    let (k1, b, n) = (1.2f32, 0.75f32, 7.0f32);
    let avgdl = (3.0 + 6.0 + 5.0 + 10.0 + 11.0 + 7.0 + 5.0) / n;
    let idf = (1.0 + (n - 2.0 + 0.5) / (2.0 + 0.5)).ln();
    let bm25 = |tf: f32, dl: f32| idf * (k1 + 1.0) * tf / (tf + k1 * (1.0 - b + b * dl / avgdl));
    assert!((hits[0].score - bm25(2.0, 6.0)).abs() < 1e-4, "{} vs {}", hits[0].score, bm25(2.0, 6.0));
    assert!((hits[1].score - bm25(1.0, 3.0)).abs() < 1e-4, "{} vs {}", hits[1].score, bm25(1.0, 3.0));
    // Sources and spans: the hit is the document's text (one passage: the whole of it).
    assert_eq!(hits[1].passage.text, "the zebra runs");
    assert_eq!(hits[1].passage.span, (0, 14));
    assert!(hits[1].passage.source.file.ends_with("animals.jsonl"));
    assert!(hits[0].snippet.contains("zebra"), "{}", hits[0].snippet);
    // Titles are searched too: "Rivers" is only a title.
    let rivers = index.search("rivers", &opts(SearchMode::Bm25, 10), None, None).unwrap();
    assert_eq!(rivers.iter().map(|h| h.passage.source.doc_id.as_str()).collect::<Vec<_>>(), ["Rivers#0", "Rivers#1"]);
    let md = index.search("beans", &opts(SearchMode::Bm25, 1), None, None).unwrap();
    assert_eq!(md[0].passage.source.title, "Brewing guide");

    // Dense: the exact cosine ranking of the embed pipeline's mean vectors (7 passages: HNSW finds them all).
    let query = "where do the ships wait?";
    let hits = index.search(query, &opts(SearchMode::Dense, 7), Some(&e), None).unwrap();
    assert_eq!(hits.len(), 7);
    let model = PipelineModel::load(fixture("pretraining").to_str().unwrap(), Task::Embed).unwrap();
    let texts: Vec<&str> = hits.iter().map(|h| h.passage.text.as_str()).collect();
    let mut all = texts.clone();
    all.push(query);
    let vectors = embed(&model, &all, Pooling::Mean, &PipelineOptions::default()).unwrap();
    let q = &vectors[7].vector;
    let cos: Vec<f32> = vectors[..7].iter().map(|v| albert::pipeline::embed::cosine(&v.vector, q)).collect();
    for (h, c) in hits.iter().zip(&cos) {
        assert!((h.score - c).abs() < 1e-5, "{}: {} vs cosine {c}", h.passage.source.doc_id, h.score);
    }
    assert!(cos.windows(2).all(|w| w[0] >= w[1] - 1e-6), "not by decreasing cosine: {cos:?}");

    // Hybrid: reciprocal rank fusion of the two lists.
    let (bm, dn) = (
        index.search(query, &opts(SearchMode::Bm25, 100), None, None).unwrap(),
        index.search(query, &opts(SearchMode::Dense, 100), Some(&e), None).unwrap(),
    );
    let ids = |h: &[albert_search::Hit]| h.iter().map(|h| h.passage.id).collect::<Vec<u64>>();
    let fused = reciprocal_rank_fusion(&[&ids(&bm), &ids(&dn)]);
    let hybrid = index.search(query, &opts(SearchMode::Hybrid, 5), Some(&e), None).unwrap();
    assert_eq!(ids(&hybrid), fused.iter().take(5).map(|(id, _)| *id).collect::<Vec<_>>());
    assert_eq!(hybrid[0].scores.fused, Some(fused[0].1));
    assert_eq!(hybrid.iter().map(|h| h.rank).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);

    // Bad queries and missing embedders are errors, not panics.
    assert!(matches!(index.search("  ", &opts(SearchMode::Bm25, 3), None, None), Err(SearchError::Input(_))));
    assert!(index.search("ships", &opts(SearchMode::Dense, 3), None, None).unwrap_err().to_string().contains("embedder"));
}

#[test]
fn add_remove_and_sync_update_the_index_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    corpus(&docs);
    let out = tmp.path().join("index");
    let e = embedder();
    let (mut index, _) = Index::build(&out, &[docs.join("sub")], &e, ChunkSettings::default(), &mut ()).unwrap();
    assert_eq!(index.info().unwrap().passages, 3);
    let bm25 = |index: &Index, q: &str| -> Vec<String> {
        index.search(q, &opts(SearchMode::Bm25, 10), None, None).unwrap().into_iter().map(|h| h.passage.source.doc_id).collect()
    };
    assert!(bm25(&index, "zebra").is_empty());

    // add: a new file is indexed; the same again is left.
    let r = index.add(&[docs.join("animals.jsonl")], &e, &mut ()).unwrap();
    assert_eq!((r.added.len(), r.passages_added), (1, 3));
    assert_eq!(bm25(&index, "zebra"), ["z2", "z1"]);
    let r = index.add(&[docs.join("animals.jsonl")], &e, &mut ()).unwrap();
    assert_eq!((r.added.len(), r.unchanged, r.passages_added), (0, 1, 0));

    // sync: a changed file is re-indexed, a deleted one removed, a new one under a synced folder added.
    std::fs::write(docs.join("sub/ships.txt"), "Lighthouses guide the ships home.").unwrap();
    std::fs::remove_file(docs.join("sub/article.json")).unwrap();
    std::fs::write(docs.join("sub/new.md"), "# Tides\nThe moon pulls the tides.").unwrap();
    let r = index.sync(&e, &mut ()).unwrap();
    assert_eq!(r.updated.len(), 1, "{r:?}");
    assert_eq!(r.removed.len(), 1, "{r:?}");
    assert_eq!(r.added.len(), 1, "{r:?}");
    assert!(bm25(&index, "harbour").is_empty());
    assert_eq!(bm25(&index, "lighthouses"), ["ships"]);
    assert!(bm25(&index, "danube").is_empty());
    assert_eq!(bm25(&index, "moon"), ["new"]);
    // The reopened index holds the same, and its vectors match its passages.
    let index2 = Index::open(&out).unwrap();
    assert_eq!(index2.info().unwrap().passages, 3 + 1 + 1);
    let dense = index2.search("tides", &opts(SearchMode::Dense, 10), Some(&e), None).unwrap();
    assert_eq!(dense.len(), 5);

    // remove: a file's passages go; ids are never reused.
    let next = index.manifest().next_id;
    let r = index.remove(&[docs.join("animals.jsonl")]).unwrap();
    assert_eq!((r.removed.len(), r.passages_removed), (1, 3));
    assert!(bm25(&index, "zebra").is_empty());
    assert_eq!(index.search("zebra", &opts(SearchMode::Dense, 10), Some(&e), None).unwrap().len(), 2);
    let err = index.remove(&[docs.join("animals.jsonl")]).unwrap_err().to_string();
    assert!(err.contains("is not in the index"), "{err}");
    index.add(&[docs.join("animals.jsonl")], &e, &mut ()).unwrap();
    let ids: Vec<u64> = index.search("zebra", &opts(SearchMode::Bm25, 10), None, None).unwrap().iter().map(|h| h.passage.id).collect();
    assert!(ids.iter().all(|&id| id >= next), "{ids:?} reuse ids below {next}");
    // Only the current generation is left on disk.
    let generations: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('g'))
        .collect();
    assert_eq!(generations, [format!("g{}", index.manifest().generation)]);
}

/// A folder with a Latin-1 file, a `.json` that is not SQuAD and a dangling link beside good documents: the good
/// ones are indexed, each bad one is named with why; a bad file named explicitly fails the update, which changes
/// nothing; a file that `sync` finds turned bad is taken out and named.
#[test]
fn files_of_a_folder_that_are_no_documents_are_skipped_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("good.txt"), "The zebra runs.").unwrap();
    std::fs::write(docs.join("notes.md"), "# Notes\nThe harbour fills with ships.").unwrap();
    // "café" in Latin-1: 0xe9 at byte 3 is no UTF-8.
    std::fs::write(docs.join("latin1.txt"), b"caf\xe9 au lait").unwrap();
    std::fs::write(docs.join("package.json"), "{\"name\": \"not squad\"}").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(tmp.path().join("nowhere.txt"), docs.join("dangling.txt")).unwrap();
    let out = tmp.path().join("index");
    let e = embedder();
    let (mut index, report) = Index::build(&out, &[docs.clone()], &e, ChunkSettings::default(), &mut ()).unwrap();
    let canonical = docs.canonicalize().unwrap();
    assert_eq!(report.added, [canonical.join("good.txt"), canonical.join("notes.md")], "{report:?}");
    let skipped: Vec<(PathBuf, String)> = report.skipped.iter().map(|s| (s.path.clone(), s.reason.clone())).collect();
    assert_eq!(skipped.len(), if cfg!(unix) { 3 } else { 2 }, "{skipped:?}");
    let reason = |name: &str| {
        let path = canonical.join(name);
        skipped.iter().find(|(p, _)| *p == path).unwrap_or_else(|| panic!("{name} not skipped: {skipped:?}")).1.clone()
    };
    assert_eq!(reason("latin1.txt"), "not UTF-8 (invalid byte at offset 3)");
    assert!(reason("package.json").contains("SQuAD format"), "{skipped:?}");
    if cfg!(unix) {
        assert!(reason("dangling.txt").contains("No such file"), "{skipped:?}");
    }
    assert_eq!(index.info().unwrap().files, 2);
    assert_eq!(index.search("zebra", &opts(SearchMode::Bm25, 10), None, None).unwrap().len(), 1);

    // Named on its own, the Latin-1 file is an error that names it, and the index is left as it was.
    let before = snapshot(&out);
    let err = index.add(&[docs.join("latin1.txt")], &e, &mut ()).unwrap_err().to_string();
    assert!(err.contains("latin1.txt") && err.contains("not UTF-8"), "{err}");
    assert_eq!(snapshot(&out), before);
    let err = Index::build(&tmp.path().join("other"), &[docs.join("latin1.txt")], &e, ChunkSettings::default(), &mut ());
    assert!(err.err().unwrap().to_string().contains("not UTF-8"));

    // sync: a good file turned Latin-1 is taken out (its passages no longer say what it holds) and named.
    std::fs::write(docs.join("good.txt"), b"Z\xe8bre").unwrap();
    let r = index.sync(&e, &mut ()).unwrap();
    assert_eq!(r.removed, [canonical.join("good.txt")], "{r:?}");
    assert!(r.skipped.iter().any(|s| s.path == canonical.join("good.txt") && s.reason.contains("offset 1")), "{r:?}");
    assert!(r.updated.is_empty() && r.added.is_empty(), "{r:?}");
    assert!(index.search("zebra", &opts(SearchMode::Bm25, 10), None, None).unwrap().is_empty());
    assert_eq!(Index::open(&out).unwrap().info().unwrap().files, 1);
}

#[test]
fn reranking_orders_candidates_by_the_classifier_relevance_label() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    corpus(&docs);
    let e = embedder();
    let (index, _) = Index::build(&tmp.path().join("index"), &[docs], &e, ChunkSettings::default(), &mut ()).unwrap();
    let reranker = Reranker::load(fixture("sentiment").to_str().unwrap()).unwrap();
    // negative, neutral, positive: "positive" is the relevance label.
    assert_eq!(reranker.label(), "positive");
    let query = "which animal sleeps?";
    let o = SearchOptions { mode: SearchMode::Hybrid, k: 4, rerank_depth: 7, ..SearchOptions::default() };
    let hits = index.search(query, &o, Some(&e), Some(&reranker)).unwrap();
    assert_eq!(hits.len(), 4);
    // The reference: the classify pipeline's "positive" probability of each (query, passage) pair.
    let model = PipelineModel::load(fixture("sentiment").to_str().unwrap(), Task::Classify).unwrap();
    let all = index.search(query, &SearchOptions { k: 7, ..o }, Some(&e), None).unwrap();
    let tok = &model.tokenizer;
    let mut expected: Vec<(f32, String)> = all
        .iter()
        .map(|h| {
            let enc = tok.encode(query, Some(&h.passage.text), &Default::default()).unwrap();
            let out = albert::pipeline::classify::classify_encoded_each(
                &model,
                vec![Ok(albert::pipeline::Truncated { encoding: enc, truncated: false })],
                None,
                albert::pipeline::classify::ScoreFunction::Softmax,
                &PipelineOptions::default(),
            )
            .unwrap();
            let labels = &out[0].as_ref().unwrap().labels;
            (labels.iter().find(|l| l.label == "positive").unwrap().score, h.passage.source.doc_id.clone())
        })
        .collect();
    expected.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (h, (score, doc)) in hits.iter().zip(&expected) {
        assert_eq!(&h.passage.source.doc_id, doc);
        assert!((h.score - score).abs() < 1e-6 && h.scores.rerank == Some(h.score));
        assert!(h.scores.fused.is_some());
    }
}

#[test]
fn damaged_or_foreign_indexes_are_refused_and_left_as_they_were() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    corpus(&docs);
    let out = tmp.path().join("index");
    let e = embedder();
    let (index, _) = Index::build(&out, &[docs.clone()], &e, ChunkSettings::default(), &mut ()).unwrap();
    let generation = out.join(format!("g{}", index.manifest().generation));
    drop(index);
    let pristine = snapshot(&out);

    // A truncated vector file, then a truncated tantivy file: named, and nothing written.
    for victim in [generation.join("vectors.usearch"), biggest_file(&generation.join("bm25"))] {
        let bytes = std::fs::read(&victim).unwrap();
        std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
        let damaged = snapshot(&out);
        let err = Index::open(&out).err().unwrap();
        assert!(matches!(err, SearchError::Corrupted { .. }), "{err}");
        assert!(err.to_string().contains(&*victim.file_name().unwrap().to_string_lossy()), "{err}");
        assert_eq!(snapshot(&out), damaged, "opening a damaged index changed it");
        std::fs::write(&victim, &bytes).unwrap();
    }
    // A foreign file of the right size in the vector file's place: its header says so at open.
    let vectors = generation.join("vectors.usearch");
    let bytes = std::fs::read(&vectors).unwrap();
    std::fs::write(&vectors, vec![7u8; bytes.len()]).unwrap();
    let err = Index::open(&out).err().unwrap();
    assert!(matches!(err, SearchError::Corrupted { .. }) && err.to_string().contains("vectors.usearch"), "{err}");
    std::fs::write(&vectors, &bytes).unwrap();

    // Same size and headers, one byte flipped (the vector file's last, in its graph; the middle of tantivy's biggest
    // segment file, its JSON metadata being read at open): opening, which reads neither whole, does not see it;
    // `verify` does (the manifest's SHA-256, tantivy's checksum), and an update refuses to build on it and changes
    // nothing.
    let tantivy = std::fs::read_dir(generation.join("bm25"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "json" && e != "lock"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let tantivy_middle = std::fs::metadata(&tantivy).unwrap().len() as usize / 2;
    for (victim, at, says) in [(vectors.clone(), bytes.len() - 1, "SHA-256"), (tantivy, tantivy_middle, "checksum")] {
        let mut damaged = std::fs::read(&victim).unwrap();
        damaged[at] ^= 0xff;
        std::fs::write(&victim, &damaged).unwrap();
        let snap = snapshot(&out);
        let mut index = Index::open(&out).unwrap();
        let err = index.verify().unwrap_err();
        let name = victim.file_name().unwrap().to_string_lossy().into_owned();
        assert!(matches!(err, SearchError::Corrupted { .. }), "{err}");
        assert!(err.to_string().contains(says) && err.to_string().contains(&name), "{err}");
        let err = index.remove(&[docs.join("guide.md")]).unwrap_err();
        assert!(matches!(err, SearchError::Corrupted { .. }) && err.to_string().contains(&name), "{err}");
        drop(index);
        assert_eq!(snapshot(&out), snap, "a refused update changed the index");
        damaged[at] ^= 0xff;
        std::fs::write(&victim, &damaged).unwrap();
    }
    Index::open(&out).unwrap().verify().unwrap();

    // Garbage in the manifest.
    let manifest = out.join("manifest.json");
    let good = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, b"{\"format\": \"albert-search-index\", \"version\": 1, \"generation\": \"x\"").unwrap();
    let err = Index::open(&out).err().unwrap().to_string();
    assert!(err.contains("corrupted") && err.contains("manifest.json"), "{err}");
    std::fs::write(&manifest, &good).unwrap();
    assert_eq!(snapshot(&out), pristine);
    assert_eq!(Index::open(&out).unwrap().info().unwrap().passages, 7);

    // A foreign directory: no manifest, or someone else's; building into it is refused and it is left alone.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("manifest.json"), b"{\"name\": \"my web app\"}").unwrap();
    let err = Index::open(&foreign).err().unwrap();
    assert!(matches!(err, SearchError::NotAnIndex { .. }), "{err}");
    assert!(matches!(Index::open(&docs).err().unwrap(), SearchError::NotAnIndex { .. }));
    let before = snapshot(&foreign);
    let err = Index::build(&foreign, &[docs.clone()], &e, ChunkSettings::default(), &mut ()).err().unwrap().to_string();
    assert!(err.contains("refusing"), "{err}");
    assert_eq!(snapshot(&foreign), before);

    // A failed update (a bad document) leaves the index as it was, with no half-written generation.
    std::fs::write(docs.join("broken.jsonl"), "{\"id\": 1, \"text\": \"fine\"}\nnot json\n").unwrap();
    let mut index = Index::open(&out).unwrap();
    let err = index.add(&[docs.join("broken.jsonl")], &e, &mut ()).unwrap_err().to_string();
    assert!(err.contains("broken.jsonl") && err.contains("line 2"), "{err}");
    assert_eq!(snapshot(&out), pristine);
    assert_eq!(Index::open(&out).unwrap().info().unwrap().passages, 7);

    // An index built with one embedder refuses another.
    let other = Embedder::load(fixture("sentiment").to_str().unwrap()).unwrap();
    let err = index.search("ships", &opts(SearchMode::Dense, 3), Some(&other), None).unwrap_err();
    assert!(matches!(err, SearchError::EmbedderMismatch { .. }), "{err}");
}

fn biggest_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap()
}

/// A sentence-transformers directory embeds passages as the library does (tests/fixtures/st, made by
/// scripts/reference/make_sentence_transformers_fixture.py with sentence-transformers 6.3: six pooling modes
/// concatenated, then Normalize), and the index records the concatenated width.
#[test]
fn a_sentence_transformers_embedder_gives_the_librarys_vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/st");
    let want: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let texts: Vec<&str> = want["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let embedder = Embedder::load(dir.join("model").to_str().unwrap()).unwrap();
    let got = embedder.embed(&texts).unwrap();
    for (i, (g, w)) in got.iter().zip(want["model"]["vectors"].as_array().unwrap()).enumerate() {
        let w: Vec<f64> = w.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!((g.len(), embedder.id().dim), (w.len(), w.len()), "text {i}: width");
        let worst = g.iter().zip(&w).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-5, "text {i}: differs from sentence-transformers by {worst}");
    }
}
