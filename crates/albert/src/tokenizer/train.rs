//! Unigram vocabulary training (the `tokenizers` crate's `UnigramTrainer`) on text preprocessed
//! exactly as ALBERT tokenizes it, written out as a SentencePiece model with ALBERT's special tokens.

use std::path::PathBuf;

use tokenizers::models::unigram::{Unigram, UnigramTrainer};
use tokenizers::{AddedToken, Trainer};

use super::error::{Result, TokenizerError};
use super::preprocess::{preprocess, Aligned};
use super::proto::{ModelProto, ModelType, Piece, PieceType};
use super::spm::SentencePiece;

/// ALBERT's special tokens, at ids 0..5.
pub const ALBERT_SPECIALS: [(&str, PieceType); 5] = [
    ("<pad>", PieceType::Control),
    ("<unk>", PieceType::Unknown),
    ("[CLS]", PieceType::Control),
    ("[SEP]", PieceType::Control),
    ("[MASK]", PieceType::Control),
];

/// Settings for [`train_unigram`].
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Text files, one sentence or paragraph per line.
    pub corpus: Vec<PathBuf>,
    /// Total vocabulary size, the five special tokens included.
    pub vocab_size: usize,
    /// Lowercase the text (ALBERT: true).
    pub do_lower_case: bool,
    /// Keep accents (ALBERT: false).
    pub keep_accents: bool,
    /// A SentencePiece `precompiled_charsmap` to normalize with (e.g. copied from ALBERT's
    /// `spiece.model`, which uses `nmt_nfkc`); empty for identity normalization.
    pub precompiled_charsmap: Vec<u8>,
    /// Longest piece, in characters.
    pub max_piece_length: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            corpus: Vec::new(),
            vocab_size: 8000,
            do_lower_case: true,
            keep_accents: false,
            precompiled_charsmap: Vec::new(),
            max_piece_length: 16,
        }
    }
}

/// A unigram `ModelProto` with ALBERT's special tokens first and then `vocab`.
pub(crate) fn albert_model_proto(
    vocab: &[(String, f32)],
    precompiled_charsmap: Vec<u8>,
) -> ModelProto {
    let mut pieces: Vec<Piece> = ALBERT_SPECIALS
        .iter()
        .map(|&(p, kind)| Piece {
            piece: p.into(),
            score: 0.0,
            kind,
        })
        .collect();
    for (p, s) in vocab {
        if !pieces.iter().any(|q| &q.piece == p) {
            pieces.push(Piece {
                piece: p.clone(),
                score: *s,
                kind: PieceType::Normal,
            });
        }
    }
    ModelProto {
        pieces,
        model_type: ModelType::Unigram,
        byte_fallback: false,
        treat_whitespace_as_suffix: false,
        unk_surface: " \u{2047} ".into(),
        normalizer_name: if precompiled_charsmap.is_empty() {
            "identity".into()
        } else {
            "nmt_nfkc".into()
        },
        precompiled_charsmap,
        add_dummy_prefix: true,
        remove_extra_whitespaces: true,
        escape_whitespaces: true,
    }
}

/// Trains a unigram vocabulary of `opts.vocab_size` pieces (special tokens included).
pub fn train_unigram(opts: &TrainOptions) -> Result<ModelProto> {
    if opts.vocab_size <= ALBERT_SPECIALS.len() {
        return Err(TokenizerError::Training(format!(
            "vocab size {} leaves no room beyond the 5 special tokens",
            opts.vocab_size
        )));
    }
    // The normalizer alone: a model holding only the special tokens and the charsmap.
    let normalizer =
        SentencePiece::new(albert_model_proto(&[], opts.precompiled_charsmap.clone()))?;
    let words_of = |line: &str| -> Vec<String> {
        let text: String = preprocess(&Aligned::chars_of(line), opts.do_lower_case, opts.keep_accents)
            .iter()
            .map(|a| a.ch)
            .collect();
        let (norm, _) = normalizer.normalize(&text);
        norm.split('\u{2581}')
            .filter(|w| !w.is_empty())
            .map(|w| format!("\u{2581}{w}"))
            .collect()
    };
    let mut lines = Vec::new();
    for path in &opts.corpus {
        let text = std::fs::read_to_string(path).map_err(|e| TokenizerError::io(path, e))?;
        lines.extend(text.lines().map(str::to_owned));
    }
    if lines.iter().all(|l| l.trim().is_empty()) {
        return Err(TokenizerError::Training("the corpus has no text".into()));
    }
    let mut trainer = UnigramTrainer::builder()
        // The trainer counts its `<unk>`, which becomes ALBERT's `<unk>`.
        .vocab_size((opts.vocab_size - ALBERT_SPECIALS.len() + 1) as u32)
        .special_tokens(vec![AddedToken::from("<unk>", true)])
        .unk_token(Some("<unk>".into()))
        .max_piece_length(opts.max_piece_length)
        .show_progress(false)
        .build()
        .map_err(|e| TokenizerError::Training(e.to_string()))?;
    trainer
        .feed(lines.iter(), |l| Ok(words_of(l)))
        .map_err(|e| TokenizerError::Training(e.to_string()))?;
    let mut model = Unigram::default();
    trainer
        .train(&mut model)
        .map_err(|e| TokenizerError::Training(e.to_string()))?;
    let vocab: Vec<(String, f32)> = model
        .iter()
        .filter(|(p, _)| p != "<unk>")
        .map(|(p, s)| (p.clone(), *s as f32))
        .collect();
    Ok(albert_model_proto(
        &vocab,
        opts.precompiled_charsmap.clone(),
    ))
}
