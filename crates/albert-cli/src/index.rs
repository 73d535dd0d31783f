//! `albert index`: build, update and describe a search index of a user's documents (the work is
//! `albert_search::Index`'s).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use albert::pipeline::{PipelineModel, Task};
use albert::Precision;
use albert_search::{ChunkSettings, Embedder, Index, IndexInfo, Progress, Reranker, SearchMode, UpdateReport};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

const EMBEDDER_HELP: &str = "The model that embeds passages and queries: a checkpoint directory or Hugging Face hub id, \
mean-pooled as `albert embed` does. Default: the built-in albert-small. The index records it; `add`, `sync` and \
`albert search` load it from there, and refuse another one";

/// Arguments of `albert index`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
albert index build --docs notes/ papers/faq.md --out my-index\n  \
albert index add my-index new-notes/\n  \
albert index sync my-index          # re-read the folders: new, changed and deleted files\n  \
albert index remove my-index notes/old.txt\n  \
albert index info my-index --json\n  \
albert index info my-index --verify # read every byte: checksums of the vectors and the BM25 files\n  \
albert search my-index \"how is the cache invalidated?\"\n\n\
Documents: .txt and other plain text (one document per file), .md/.markdown (titled by the first heading), \
.jsonl (one {\"id\", \"title\", \"text\"} per line) and .json in SQuAD format (one document per paragraph). Folders \
are walked for those extensions, hidden entries skipped. In a folder, a file that cannot be read (permission denied, \
a dangling link) or is no document of its format (not UTF-8, a .json that is not SQuAD, a bad JSONL line), or a \
subfolder that cannot be listed, is skipped with a warning naming it and why, and the rest is indexed; the summary \
and --json (\"skipped\") count them. A file named on the command line is read or the command fails, naming it, with \
the index left as it was: naming a file says you want it indexed. Each document is cut into passages of --passage-tokens \
tokens of the embedder's tokenizer, consecutive ones sharing --overlap tokens; a passage keeps its file, document id, \
title and code-point span.\n\n\
The index is a folder: a BM25 index (tantivy) that also stores the passages, a vector index (usearch HNSW) and \
manifest.json. Every change is written beside the current index and switched in by one atomic rename of the \
manifest: an interrupted command leaves the index as it was.")]
pub struct IndexArgs {
    #[command(subcommand)]
    command: IndexCommand,
}

#[derive(clap::Subcommand, Debug)]
enum IndexCommand {
    /// Index documents into a new folder (or rebuild an existing index there).
    Build(BuildArgs),
    /// Index more documents (files already indexed are re-read only if their content changed).
    Add(AddArgs),
    /// Take files (or every file under a folder) out of the index.
    Remove(RemoveArgs),
    /// Re-read the paths the index was built from: index new files, re-index changed ones, drop deleted ones.
    Sync(SyncArgs),
    /// Describe an index: embedder, passage settings, files, passages, size.
    Info(InfoArgs),
}

#[derive(clap::Args, Debug)]
struct BuildArgs {
    /// Files or folders to index. A file in a folder that cannot be read as a document is skipped with a warning; a
    /// file named here that cannot be is an error (nothing is written).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    docs: Vec<PathBuf>,
    /// The index folder: absent, empty, or an index (replaced once the new one is complete).
    #[arg(long, value_name = "INDEX")]
    out: PathBuf,
    #[arg(long, value_name = "MODEL", help = EMBEDDER_HELP)]
    embedder: Option<String>,
    /// Tokens per passage (the embedder's tokenizer, special tokens not counted).
    #[arg(long, default_value_t = 200)]
    passage_tokens: usize,
    /// Tokens shared by consecutive passages of a document.
    #[arg(long, default_value_t = 50)]
    overlap: usize,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct AddArgs {
    /// The index folder.
    index: PathBuf,
    /// Files or folders to add (a file in a folder that cannot be read as a document is skipped with a warning; a
    /// file named here that cannot be is an error).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long, value_name = "MODEL", help = EMBEDDER_HELP)]
    embedder: Option<String>,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct RemoveArgs {
    /// The index folder.
    index: PathBuf,
    /// Indexed files, or folders (every indexed file under them, and `sync` no longer walks them). A file that
    /// still lies in a folder the index syncs comes back at the next `sync`: delete it, or remove the folder.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct SyncArgs {
    /// The index folder.
    index: PathBuf,
    #[arg(long, value_name = "MODEL", help = EMBEDDER_HELP)]
    embedder: Option<String>,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct InfoArgs {
    /// The index folder.
    index: PathBuf,
    /// Also read every byte of the index and check it against its checksums (the vector file's SHA-256 in the
    /// manifest, tantivy's per-file checksums). Opening an index, as every search does, checks only sizes, headers
    /// and counts; this finds damage that keeps those (a flipped byte). Updates run the same check first.
    #[arg(long)]
    verify: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `albert index`.
pub fn run(args: IndexArgs) -> Result<()> {
    match args.command {
        IndexCommand::Build(a) => {
            let spec = match a.embedder {
                Some(m) => m,
                None => albert::builtin::path(albert::builtin::PRETRAINED)?.to_string_lossy().into_owned(),
            };
            let embedder = load_embedder(&spec)?;
            let chunking = ChunkSettings { passage_tokens: a.passage_tokens, overlap: a.overlap };
            let start = Instant::now();
            let (index, report) = Index::build(&a.out, &a.docs, &embedder, chunking, &mut Bars::new(a.json))
                .with_context(|| format!("building the index in {}", a.out.display()))?;
            print_report("built", &index, &report, start.elapsed(), a.json)
        }
        IndexCommand::Add(a) => {
            let mut index = open(&a.index)?;
            let embedder = index_embedder(&index, a.embedder.as_deref())?;
            let start = Instant::now();
            let report = index.add(&a.paths, &embedder, &mut Bars::new(a.json))?;
            print_report("updated", &index, &report, start.elapsed(), a.json)
        }
        IndexCommand::Remove(a) => {
            let mut index = open(&a.index)?;
            let start = Instant::now();
            let report = index.remove(&a.paths)?;
            print_report("updated", &index, &report, start.elapsed(), a.json)
        }
        IndexCommand::Sync(a) => {
            let mut index = open(&a.index)?;
            let embedder = index_embedder(&index, a.embedder.as_deref())?;
            let start = Instant::now();
            let report = index.sync(&embedder, &mut Bars::new(a.json))?;
            print_report("synced", &index, &report, start.elapsed(), a.json)
        }
        IndexCommand::Info(a) => {
            let index = open(&a.index)?;
            if a.verify {
                index.verify()?;
            }
            let info = index.info()?;
            if a.json {
                let mut value = serde_json::to_value(&info)?;
                if a.verify {
                    value["verified"] = true.into();
                }
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print_info(&info);
                if a.verify {
                    println!("verified   every file matches its checksum");
                }
            }
            Ok(())
        }
    }
}

/// Opens the index in `dir`.
pub fn open(dir: &std::path::Path) -> Result<Index> {
    Index::open(dir).with_context(|| format!("opening the index {}", dir.display()))
}

fn load_embedder(spec: &str) -> Result<Embedder> {
    Embedder::load(spec).with_context(|| format!("loading the embedder {}", albert::hub::echo(spec)))
}

/// The index's own embedder, or `spec` (checked to be the same model).
pub fn index_embedder(index: &Index, spec: Option<&str>) -> Result<Embedder> {
    let spec = spec.unwrap_or(&index.manifest().embedder.spec);
    let embedder = load_embedder(spec)?;
    index.check_embedder(&embedder)?;
    Ok(embedder)
}

/// The query embedder a search `mode` needs: none for BM25, else the index's own (or `spec`, checked to be it).
pub fn query_embedder(index: &Index, mode: SearchMode, spec: Option<&str>) -> Result<Option<Embedder>> {
    match mode {
        SearchMode::Bm25 => Ok(None),
        SearchMode::Dense | SearchMode::Hybrid => index_embedder(index, spec).map(Some),
    }
}

/// The reranker `spec` names, if any, its projections in int8 where `int8` asks and this CPU runs it fast.
pub fn load_reranker(spec: Option<&str>, int8: bool) -> Result<Option<Reranker>> {
    spec.map(|spec| {
        let loading = || format!("loading the reranker {}", albert::hub::echo(spec));
        let mut model = PipelineModel::load(spec, Task::Classify).with_context(loading)?;
        model.set_precision(Precision::from_int8(crate::info::int8_wanted(int8)));
        Reranker::new(model).with_context(loading)
    })
    .transpose()
}

/// Warns on stderr of each skipped file (whatever the output), then prints the summary or, with `json`, the report.
fn print_report(what: &str, index: &Index, r: &UpdateReport, took: Duration, json: bool) -> Result<()> {
    for s in &r.skipped {
        eprintln!("warning: skipped {}: {}", s.path.display(), s.reason);
    }
    let info = index.info()?;
    if json {
        let out = serde_json::json!({"index": info, "report": r, "seconds": took.as_secs_f64()});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let secs = took.as_secs_f64();
    let rate = if r.passages_added > 0 && secs > 0.0 { format!(" ({:.0} passages/s)", r.passages_added as f64 / secs) } else { String::new() };
    let skipped = match r.skipped.len() {
        0 => String::new(),
        n => format!(", {n} skipped (see the warnings)"),
    };
    println!(
        "{what} {} in {secs:.1} s{rate}: {} file(s) added, {} re-indexed, {} removed, {} unchanged{skipped}; {} passage(s) added, {} removed",
        info.dir.display(),
        r.added.len(),
        r.updated.len(),
        r.removed.len(),
        r.unchanged,
        r.passages_added,
        r.passages_removed
    );
    println!("now {} passages from {} documents in {} files ({:.1} MB)", info.passages, info.documents, info.files, info.bytes as f64 / 1e6);
    Ok(())
}

fn print_info(i: &IndexInfo) {
    println!("index      {} (format version {}, generation {})", i.dir.display(), i.version, i.generation);
    println!("embedder   {}", i.embedder);
    println!("passages   {} tokens, {} shared", i.chunking.passage_tokens, i.chunking.overlap);
    println!("content    {} passages, {} documents, {} files", i.passages, i.documents, i.files);
    println!("size       {:.1} MB", i.bytes as f64 / 1e6);
    for root in &i.roots {
        println!("synced     {}", root.display());
    }
}

/// Progress bars on stderr, one per stage, when it is a terminal and the output is not JSON.
struct Bars {
    show: bool,
    bar: Option<ProgressBar>,
}

impl Bars {
    fn new(json: bool) -> Self {
        Self { show: !json && std::io::stderr().is_terminal(), bar: None }
    }
}

impl Progress for Bars {
    fn stage(&mut self, name: &str, total: u64) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
        if self.show {
            let bar = ProgressBar::new(total);
            let template = format!("{name:>9} {{bar:30}} {{pos}}/{{len}} [{{elapsed_precise}}<{{eta_precise}}] {{per_sec}}");
            bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
            bar.enable_steady_tick(Duration::from_millis(500));
            self.bar = Some(bar);
        }
    }

    fn advance(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}
