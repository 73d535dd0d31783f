//! `albert vocab`: build tokenizer vocabularies.

use std::path::PathBuf;

use albert::tokenizer::{
    train_unigram, AlbertTokenizer, ModelProto, TokenizerConfig, TrainOptions,
};
use anyhow::Context;

/// Build ALBERT vocabularies.
#[derive(Debug, clap::Args)]
pub struct VocabArgs {
    #[command(subcommand)]
    pub command: VocabCommand,
}

/// `albert vocab` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum VocabCommand {
    /// Train a unigram (SentencePiece-style) vocabulary with ALBERT's special tokens.
    ///
    /// The corpus is preprocessed exactly as ALBERT tokenizes (whitespace collapse, ``...'' to ",
    /// NFKD without accents, lowercase), then the tokenizers crate's UnigramTrainer picks the
    /// pieces. OUT receives:
    ///   spiece.model           loadable by the sentencepiece library (<pad> 0, <unk> 1, [CLS] 2,
    ///                          [SEP] 3, [MASK] 4, then the pieces)
    ///   tokenizer.json         loadable by transformers' AutoTokenizer / the tokenizers library
    ///   tokenizer_config.json  do_lower_case, keep_accents, special tokens
    ///
    /// Example:
    ///   albert vocab train --corpus books.txt --corpus wiki.txt --vocab-size 30000 --out my-vocab/
    #[command(verbatim_doc_comment)]
    Train(TrainArgs),
}

/// Arguments of `albert vocab train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Training text, one sentence or paragraph per line (repeatable).
    #[arg(long, required = true, value_name = "FILE")]
    pub corpus: Vec<PathBuf>,
    /// Vocabulary size, the 5 special tokens included (ALBERT uses 30000).
    #[arg(long, value_name = "N")]
    pub vocab_size: usize,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub overwrite: crate::output::OverwriteArg,
    /// Copy SentencePiece's precompiled normalization (e.g. nmt_nfkc) from this model, such as
    /// ALBERT's spiece.model; without it the vocabulary uses identity normalization.
    #[arg(long, value_name = "MODEL")]
    pub normalizer_from: Option<PathBuf>,
    /// Keep letter case (default: lowercase, as ALBERT).
    #[arg(long)]
    pub cased: bool,
    /// Keep accents (default: strip them, as ALBERT).
    #[arg(long)]
    pub keep_accents: bool,
    /// Longest piece, in characters.
    #[arg(long, default_value_t = 16)]
    pub max_piece_length: usize,
}

/// Runs `albert vocab`.
pub fn run(args: VocabArgs) -> anyhow::Result<()> {
    match args.command {
        VocabCommand::Train(a) => train(a),
    }
}

fn train(a: TrainArgs) -> anyhow::Result<()> {
    a.overwrite.claim_dir(&a.out, "vocab train", &crate::output::TOKENIZER_FILES)?;
    let precompiled_charsmap = match &a.normalizer_from {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            ModelProto::parse(&bytes)
                .with_context(|| format!("parsing {}", p.display()))?
                .precompiled_charsmap
        }
        None => Vec::new(),
    };
    let opts = TrainOptions {
        corpus: a.corpus,
        vocab_size: a.vocab_size,
        do_lower_case: !a.cased,
        keep_accents: a.keep_accents,
        precompiled_charsmap,
        max_piece_length: a.max_piece_length,
    };
    let proto = train_unigram(&opts)?;
    let n = proto.pieces.len();
    let config = TokenizerConfig {
        do_lower_case: opts.do_lower_case,
        keep_accents: opts.keep_accents,
    };
    let tok = AlbertTokenizer::from_model_proto(proto, config)?;
    tok.save(&a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!("wrote a {n}-piece vocabulary to {}", a.out.display());
    Ok(())
}
