//! `albert tokenize`: show how a tokenizer splits text, or encode a stream of texts.

use std::io::Write;
use std::path::PathBuf;

use albert::tokenizer::{AlbertTokenizer, EncodeOptions, Encoding, Truncation, TruncationDirection, TruncationStrategy};
use anyhow::Context;

/// Tokenize text with an ALBERT tokenizer.
///
/// PATH may be a SentencePiece `spiece.model` (ALBERT's original tokenization: lowercasing,
/// accent stripping, the digit-comma rule), a Hugging Face `tokenizer.json`, or a checkpoint
/// directory holding either (tokenizer.json wins when both exist; the directory's
/// tokenizer_config.json sets do_lower_case / keep_accents for spiece.model).
///
/// Examples:
///   albert tokenize --tokenizer spiece.model "Hello, world!"
///   albert tokenize --tokenizer ckpt/ --pair "Where is Paris?" "Paris is in France."
///   albert tokenize --tokenizer ckpt/ --json "9,000 cafés"
///   cat lines.txt | albert tokenize --tokenizer ckpt/ --jsonl > ids.jsonl
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct TokenizeArgs {
    /// spiece.model, tokenizer.json, or a checkpoint directory.
    #[arg(long, value_name = "PATH")]
    pub tokenizer: PathBuf,
    /// Second sequence of a pair: encoded as `[CLS] TEXT [SEP] PAIR [SEP]` with type ids 0 then 1.
    #[arg(long, value_name = "TEXT")]
    pub pair: Option<String>,
    /// Print one JSON object (ids, tokens, type ids, offsets, masks) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Read one text per line from stdin and write one JSON object per line with `input_ids`,
    /// `token_type_ids`, `attention_mask` and `offsets` (code points). Lines are encoded in
    /// parallel batches; output order follows input order. A line that is not UTF-8 gets
    /// {"line": N, "error": ...} in its place and the exit status 3.
    #[arg(long, conflicts_with_all = ["json", "pair", "text"])]
    pub jsonl: bool,
    /// Truncate to this many tokens (special tokens included); the rest is shown as
    /// overflowing windows.
    #[arg(long, value_name = "N")]
    pub max_length: Option<usize>,
    /// Tokens shared by consecutive windows when truncating (as transformers' `stride`).
    #[arg(long, default_value_t = 0, requires = "max_length")]
    pub stride: usize,
    /// Leave out [CLS] and [SEP].
    #[arg(long)]
    pub no_special_tokens: bool,
    /// The text to tokenize (required unless --jsonl).
    #[arg(required_unless_present = "jsonl")]
    pub text: Option<String>,
}

/// Runs `albert tokenize`.
pub fn run(args: TokenizeArgs) -> anyhow::Result<()> {
    let tok = AlbertTokenizer::from_path(&args.tokenizer)
        .with_context(|| format!("loading tokenizer from {}", args.tokenizer.display()))?;
    let opts = EncodeOptions {
        add_special_tokens: !args.no_special_tokens,
        truncation: args.max_length.map(|max_length| Truncation {
            max_length,
            stride: args.stride,
            strategy: if args.pair.is_some() {
                TruncationStrategy::OnlySecond
            } else {
                TruncationStrategy::LongestFirst
            },
            direction: TruncationDirection::Right,
        }),
        ..Default::default()
    };
    if args.jsonl {
        return run_jsonl(&tok, &opts);
    }
    let text = args
        .text
        .as_deref()
        .expect("clap requires TEXT without --jsonl");
    let enc = tok.encode(text, args.pair.as_deref(), &opts)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer(&mut out, &enc)?;
        writeln!(out)?;
        return Ok(());
    }
    for (i, window) in std::iter::once(&enc).chain(&enc.overflowing).enumerate() {
        if i > 0 {
            writeln!(out, "-- overflowing window {i}")?;
        }
        print_table(&mut out, window)?;
    }
    Ok(())
}

fn print_table(out: &mut impl Write, enc: &Encoding) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>5}  {:>6}  {:>4}  {:>11}  token",
        "index", "id", "type", "offsets"
    )?;
    for i in 0..enc.len() {
        let (a, b) = enc.offsets[i];
        writeln!(
            out,
            "{i:>5}  {:>6}  {:>4}  {:>11}  {}",
            enc.ids[i],
            enc.type_ids[i],
            format!("{a}..{b}"),
            enc.tokens[i]
        )?;
    }
    Ok(())
}

/// One `--jsonl` output line, serialized straight from the encoding (a `serde_json::Value` tree of a long line's
/// tokens took several times the encoding's memory).
/// Fields in the order `json!` wrote them (sorted), so the output stays byte for byte the same.
#[derive(serde::Serialize)]
struct JsonlRow<'a> {
    attention_mask: &'a [u32],
    input_ids: &'a [u32],
    offsets: &'a [(usize, usize)],
    token_type_ids: &'a [u32],
}

/// Encodes stdin's lines as the pipelines read them: in windows, answers in input order as each window is done, a
/// line that cannot be encoded (invalid UTF-8) reported in its place as `{"line": N, "error": ...}` (exit status 3).
fn run_jsonl(tok: &AlbertTokenizer, opts: &EncodeOptions) -> anyhow::Result<()> {
    let encode = |lines: &[&String]| {
        // In parallel; should the batch fail, line by line to find which.
        Ok(match tok.encode_batch(&lines.iter().map(|l| (l.as_str(), None)).collect::<Vec<_>>(), opts) {
            Ok(encodings) => encodings.into_iter().map(Ok).collect(),
            Err(_) => lines.iter().map(|l| tok.encode(l, None, opts).map_err(|e| e.to_string())).collect(),
        })
    };
    crate::pipelines::stream(Vec::new(), Ok, true, false, encode, |out, _, _, enc: Encoding| {
        let row = JsonlRow {
            attention_mask: &enc.attention_mask,
            input_ids: &enc.ids,
            offsets: &enc.offsets,
            token_type_ids: &enc.type_ids,
        };
        serde_json::to_writer(&mut *out, &row)?;
        out.write_all(b"\n")?;
        Ok(())
    })
}
