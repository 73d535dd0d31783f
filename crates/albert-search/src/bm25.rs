//! The passage store and its BM25 index: one tantivy document per passage, holding the passage whole (id, source,
//! span, text), so that any hit, lexical or dense, is read back from here by its id.
//!
//! Title and text are indexed with tantivy's English stemming analyzer (`en_stem`: lower case, Porter stemmer)
//! and scored by tantivy's BM25 (k1 = 1.2, b = 0.75) over both fields.

use std::path::{Path, PathBuf};

use tantivy::collector::TopDocs;
use tantivy::query::{Query, QueryParser, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::error::{Result, SearchError};
use crate::passage::{Passage, Source};

/// Memory of the indexing writer (tantivy splits it among its threads; 15 MB each at least).
const WRITER_MEMORY: usize = 64 << 20;
/// Characters of a snippet.
pub(crate) const SNIPPET_CHARS: usize = 200;

/// The schema's fields.
#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    file: Field,
    doc_id: Field,
    title: Field,
    text: Field,
    start: Field,
    end: Field,
}

impl Fields {
    fn schema() -> Schema {
        let mut b = Schema::builder();
        let analyzed = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default().set_tokenizer("en_stem").set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        b.add_u64_field("id", NumericOptions::default().set_indexed().set_stored().set_fast());
        b.add_text_field("file", STRING | STORED);
        b.add_text_field("doc_id", STRING | STORED);
        b.add_text_field("title", analyzed.clone());
        b.add_text_field("text", analyzed);
        b.add_u64_field("start", STORED);
        b.add_u64_field("end", STORED);
        b.build()
    }

    fn of(schema: &Schema) -> Option<Self> {
        let f = |name| schema.get_field(name).ok();
        Some(Self {
            id: f("id")?,
            file: f("file")?,
            doc_id: f("doc_id")?,
            title: f("title")?,
            text: f("text")?,
            start: f("start")?,
            end: f("end")?,
        })
    }
}

/// The passages and their BM25 index, in one tantivy directory.
pub(crate) struct Bm25 {
    index: tantivy::Index,
    reader: IndexReader,
    fields: Fields,
    dir: PathBuf,
}

/// A BM25 hit: passage id and score.
pub(crate) type Scored = (u64, f32);

impl Bm25 {
    /// Creates an empty store in `dir` (which must be empty).
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        let index = tantivy::Index::create_in_dir(dir, Fields::schema())?;
        Self::with(index, dir)
    }

    /// Opens the store in `dir`; a schema other than ours is reported as corruption.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let index = tantivy::Index::open_in_dir(dir)?;
        Self::with(index, dir)
    }

    fn with(index: tantivy::Index, dir: &Path) -> Result<Self> {
        let fields = Fields::of(&index.schema()).ok_or_else(|| SearchError::Corrupted {
            dir: dir.into(),
            reason: format!("{} holds a tantivy index of another schema", dir.display()),
        })?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { index, reader, fields, dir: dir.into() })
    }

    /// Number of passages.
    pub(crate) fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The files (relative to the store's directory) whose bytes do not match the checksum in their footer.
    pub(crate) fn damaged_files(&self) -> Result<Vec<PathBuf>> {
        let mut damaged: Vec<PathBuf> = self.index.validate_checksum()?.into_iter().collect();
        damaged.sort();
        Ok(damaged)
    }

    /// Starts a batch of changes, applied by [`Bm25Writer::commit`].
    pub(crate) fn writer(&self) -> Result<Bm25Writer<'_>> {
        // One indexing thread: tantivy's default of one per core fights the embedder for the 2 cores we plan for.
        let writer = self.index.writer_with_num_threads(1, WRITER_MEMORY)?;
        Ok(Bm25Writer { store: self, writer })
    }

    /// The ids of the passages of `file`.
    pub(crate) fn ids_of_file(&self, file: &str) -> Result<Vec<u64>> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(Term::from_field_text(self.fields.file, file), IndexRecordOption::Basic);
        let n = searcher.search(&query, &tantivy::collector::Count)?;
        let docs = searcher.search(&query, &TopDocs::with_limit(n.max(1)).order_by_score())?;
        docs.into_iter().map(|(_, addr)| Ok(self.id_of(&searcher.doc(addr)?))).collect()
    }

    fn id_of(&self, doc: &TantivyDocument) -> u64 {
        doc.get_first(self.fields.id).and_then(|v| v.as_u64()).unwrap_or(u64::MAX)
    }

    fn parse(&self, query: &str) -> Box<dyn Query> {
        let parser = QueryParser::for_index(&self.index, vec![self.fields.title, self.fields.text]);
        // Lenient: a user's question ("what's `x`?") is words, not query syntax; what does not parse is dropped.
        parser.parse_query_lenient(query).0
    }

    /// The best `k` passages for `query` by BM25, best first.
    pub(crate) fn search(&self, query: &str, k: usize) -> Result<Vec<Scored>> {
        let searcher = self.reader.searcher();
        let hits = searcher.search(&*self.parse(query), &TopDocs::with_limit(k.max(1)).order_by_score())?;
        hits.into_iter().map(|(score, addr)| Ok((self.id_of(&searcher.doc(addr)?), score))).collect()
    }

    /// The passages of `ids`, in order, each with a snippet of its text around `query`'s terms.
    pub(crate) fn passages(&self, ids: &[u64], query: &str) -> Result<Vec<(Passage, String)>> {
        let searcher = self.reader.searcher();
        let mut snippets = SnippetGenerator::create(&searcher, &*self.parse(query), self.fields.text)?;
        snippets.set_max_num_chars(SNIPPET_CHARS);
        ids.iter()
            .map(|&id| {
                let addr = self.address(id)?;
                let doc: TantivyDocument = searcher.doc(addr)?;
                let passage = self.passage(&doc)?;
                let fragment = snippets.snippet_from_doc(&doc).fragment().trim().to_owned();
                let snippet = if fragment.is_empty() { passage.text.chars().take(SNIPPET_CHARS).collect() } else { fragment };
                Ok((passage, snippet))
            })
            .collect()
    }

    fn address(&self, id: u64) -> Result<DocAddress> {
        let query = TermQuery::new(Term::from_field_u64(self.fields.id, id), IndexRecordOption::Basic);
        let hit = self.reader.searcher().search(&query, &TopDocs::with_limit(1).order_by_score())?;
        hit.first().map(|(_, a)| *a).ok_or_else(|| SearchError::Corrupted {
            dir: self.dir.clone(),
            reason: format!("passage {id} is in the vector index but not in the passage store"),
        })
    }

    fn passage(&self, doc: &TantivyDocument) -> Result<Passage> {
        let f = &self.fields;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_owned);
        let num = |field| doc.get_first(field).and_then(|v| v.as_u64());
        let missing = || SearchError::Corrupted { dir: self.dir.clone(), reason: "a stored passage lacks a field".into() };
        Ok(Passage {
            id: num(f.id).ok_or_else(missing)?,
            source: Source {
                file: PathBuf::from(text(f.file).ok_or_else(missing)?),
                doc_id: text(f.doc_id).ok_or_else(missing)?,
                title: text(f.title).unwrap_or_default(),
            },
            span: (num(f.start).ok_or_else(missing)? as usize, num(f.end).ok_or_else(missing)? as usize),
            text: text(f.text).ok_or_else(missing)?,
        })
    }
}

/// Changes to the store, visible once committed.
pub(crate) struct Bm25Writer<'a> {
    store: &'a Bm25,
    writer: IndexWriter,
}

impl Bm25Writer<'_> {
    /// Adds a passage.
    pub(crate) fn add(&mut self, p: &Passage) -> Result<()> {
        let f = &self.store.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.id, p.id);
        doc.add_text(f.file, p.source.file.to_string_lossy());
        doc.add_text(f.doc_id, &p.source.doc_id);
        doc.add_text(f.title, &p.source.title);
        doc.add_text(f.text, &p.text);
        doc.add_u64(f.start, p.span.0 as u64);
        doc.add_u64(f.end, p.span.1 as u64);
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Removes every passage of `file`.
    pub(crate) fn remove_file(&mut self, file: &str) {
        self.writer.delete_term(Term::from_field_text(self.store.fields.file, file));
    }

    /// Makes the changes durable and visible, merged into few segments, and waits for the merges so that the
    /// directory holds only live files when the generation is sealed.
    pub(crate) fn commit(self) -> Result<()> {
        let Bm25Writer { store, mut writer } = self;
        writer.commit()?;
        writer.wait_merging_threads()?;
        store.reader.reload()?;
        Ok(())
    }
}
