//! Model inputs: `[CLS] A [SEP] (B [SEP])`, truncation into overlapping windows, and padding.
//! Truncation, overflow and padding follow the `tokenizers` crate (what transformers' fast
//! tokenizers return), so both tokenizer paths share one implementation.

use serde::Serialize;

use super::albert_spm::RawToken;
use super::error::{Result, TokenizerError};

/// Which sequence loses tokens when a pair is too long.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TruncationStrategy {
    /// Take tokens from the longer sequence until both fit (transformers' default).
    #[default]
    LongestFirst,
    /// Truncate only the first sequence.
    OnlyFirst,
    /// Truncate only the second sequence (question answering: the context).
    OnlySecond,
}

/// Which end of a sequence loses tokens (transformers' `truncation_side`, TEI's `truncation_direction`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TruncationDirection {
    /// Keep the start, drop tokens from the end (transformers' default).
    #[default]
    Right,
    /// Keep the end, drop tokens from the start; overflowing windows go backwards from the end.
    Left,
}

/// Truncation settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Maximum total length, special tokens included.
    pub max_length: usize,
    /// Tokens shared by consecutive overflowing windows (transformers' `stride`).
    pub stride: usize,
    /// Which sequence to truncate.
    pub strategy: TruncationStrategy,
    /// Which end of a sequence is cut.
    pub direction: TruncationDirection,
}

/// Padding settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Padding {
    /// No padding.
    #[default]
    None,
    /// Pad to the longest encoding of the batch.
    Longest,
    /// Pad to this length.
    MaxLength(usize),
}

/// Options for [`super::AlbertTokenizer::encode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Add `[CLS]`/`[SEP]` (default true).
    pub add_special_tokens: bool,
    /// Truncate to a maximum length, returning the rest as overflowing windows.
    pub truncation: Option<Truncation>,
    /// Pad with `<pad>` on the right.
    pub padding: Padding,
    /// Round the padded length up to a multiple of this.
    pub pad_to_multiple_of: Option<usize>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            add_special_tokens: true,
            truncation: None,
            padding: Padding::None,
            pad_to_multiple_of: None,
        }
    }
}

impl EncodeOptions {
    /// Special tokens added, and inputs cut to `max_length` tokens by `strategy` (no windows: the rest is returned as
    /// overflow, which callers that only need the first window drop).
    pub fn truncating(max_length: usize, strategy: TruncationStrategy) -> Self {
        Self::truncating_from(max_length, strategy, TruncationDirection::Right)
    }

    /// [`EncodeOptions::truncating`], cutting from `direction`'s end.
    pub fn truncating_from(max_length: usize, strategy: TruncationStrategy, direction: TruncationDirection) -> Self {
        Self { truncation: Some(Truncation { max_length, stride: 0, strategy, direction }), ..Self::default() }
    }
}

/// One encoded input (a sequence or a pair).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Encoding {
    /// Token ids (`input_ids`).
    pub ids: Vec<u32>,
    /// Segment ids: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]` (`token_type_ids`).
    pub type_ids: Vec<u32>,
    /// Token strings.
    pub tokens: Vec<String>,
    /// Half-open code-point ranges into the text each token came from (into B for B's tokens);
    /// `(0, 0)` for added special tokens and padding (transformers' `offset_mapping`).
    pub offsets: Vec<(usize, usize)>,
    /// 1 for `[CLS]`, `[SEP]` and padding added here, else 0.
    pub special_tokens_mask: Vec<u32>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<u32>,
    /// Further windows when truncation cut the input.
    pub overflowing: Vec<Encoding>,
}

/// The token used by post-processing.
#[derive(Clone, Debug)]
pub(crate) struct Special {
    pub id: u32,
    pub token: String,
}

/// Ids and strings of `[CLS]`, `[SEP]` and `<pad>` (absent from some non-ALBERT models).
#[derive(Clone, Debug)]
pub(crate) struct Specials {
    pub cls: Option<Special>,
    pub sep: Option<Special>,
    pub pad: Option<Special>,
}

impl Encoding {
    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn from_tokens(tokens: Vec<RawToken>, type_id: u32) -> Self {
        let n = tokens.len();
        let mut e = Encoding {
            type_ids: vec![type_id; n],
            special_tokens_mask: vec![0; n],
            attention_mask: vec![1; n],
            ..Default::default()
        };
        for t in tokens {
            e.ids.push(t.id);
            e.tokens.push(t.token);
            e.offsets.push(t.offsets);
        }
        e
    }

    fn special(s: &Special, type_id: u32) -> Self {
        Encoding {
            ids: vec![s.id],
            type_ids: vec![type_id],
            tokens: vec![s.token.clone()],
            offsets: vec![(0, 0)],
            special_tokens_mask: vec![1],
            attention_mask: vec![1],
            overflowing: vec![],
        }
    }

    fn slice(&self, a: usize, b: usize) -> Self {
        Encoding {
            ids: self.ids[a..b].to_vec(),
            type_ids: self.type_ids[a..b].to_vec(),
            tokens: self.tokens[a..b].to_vec(),
            offsets: self.offsets[a..b].to_vec(),
            special_tokens_mask: self.special_tokens_mask[a..b].to_vec(),
            attention_mask: self.attention_mask[a..b].to_vec(),
            overflowing: vec![],
        }
    }

    /// `tokenizers::Encoding::truncate`: windows of `max_len` every `max_len - stride` tokens, from the start
    /// (`Right`: the first window keeps the start) or from the end (`Left`: it keeps the end); the first stays,
    /// the rest become `overflowing`.
    fn truncate(&mut self, max_len: usize, stride: usize, direction: TruncationDirection) -> Result<()> {
        let n = self.len();
        if max_len >= n {
            return Ok(());
        }
        if max_len == 0 {
            let whole = std::mem::take(self);
            self.overflowing.push(whole);
            return Ok(());
        }
        if stride >= max_len {
            return Err(TokenizerError::InvalidOptions(format!(
                "stride {stride} must be smaller than the space left for the truncated sequence ({max_len} tokens)"
            )));
        }
        let step = max_len - stride;
        // Window bounds in the order they are cut, ending with the one that reaches the far end.
        let mut bounds = Vec::new();
        match direction {
            TruncationDirection::Right => {
                let mut start = 0;
                loop {
                    let stop = (start + max_len).min(n);
                    bounds.push((start, stop));
                    if stop == n {
                        break;
                    }
                    start += step;
                }
            }
            TruncationDirection::Left => {
                let mut stop = n;
                loop {
                    let start = stop.saturating_sub(max_len);
                    bounds.push((start, stop));
                    if start == 0 {
                        break;
                    }
                    stop -= step;
                }
            }
        }
        let mut windows = bounds.into_iter().map(|(a, b)| self.slice(a, b));
        let mut first = windows.next().expect("at least one window");
        first.overflowing = windows.collect();
        *self = first;
        Ok(())
    }

    /// Cuts this encoding to `max_len` tokens from `direction`'s end, dropping the rest (no windows); whether
    /// tokens were dropped. For ids given as they are (a server's token-id inputs): no special token is re-added.
    pub fn truncate_to(&mut self, max_len: usize, direction: TruncationDirection) -> bool {
        let cut = self.len() > max_len;
        // Stride 0 is below any positive `max_len`; for 0 everything goes to the (dropped) overflow.
        if self.truncate(max_len, 0, direction).is_ok() {
            self.overflowing.clear();
        }
        cut
    }

    /// `tokenizers::Encoding::merge_with` without growing offsets, overflow cross-products included.
    fn merge_with(&mut self, pair: Encoding) {
        let mut overflowings = Vec::new();
        for self_o in &self.overflowing {
            let mut n = self_o.clone();
            n.merge_with(pair.clone());
            overflowings.push(n);
            for other_o in &pair.overflowing {
                let mut n = self_o.clone();
                n.merge_with(other_o.clone());
                overflowings.push(n);
            }
        }
        for other_o in &pair.overflowing {
            let mut n = self.clone();
            n.merge_with(other_o.clone());
            overflowings.push(n);
        }
        self.ids.extend(pair.ids);
        self.type_ids.extend(pair.type_ids);
        self.tokens.extend(pair.tokens);
        self.offsets.extend(pair.offsets);
        self.special_tokens_mask.extend(pair.special_tokens_mask);
        self.attention_mask.extend(pair.attention_mask);
        self.overflowing = overflowings;
    }

    /// Pads this encoding and its windows on the right to `target` tokens.
    pub(crate) fn pad(&mut self, target: usize, pad: &Special) {
        for o in &mut self.overflowing {
            o.pad(target, pad);
        }
        let n = target.saturating_sub(self.len());
        self.ids.extend(std::iter::repeat_n(pad.id, n));
        self.type_ids.extend(std::iter::repeat_n(0, n));
        self.tokens
            .extend(std::iter::repeat_n(pad.token.clone(), n));
        self.offsets.extend(std::iter::repeat_n((0, 0), n));
        self.special_tokens_mask.extend(std::iter::repeat_n(1, n));
        self.attention_mask.extend(std::iter::repeat_n(0, n));
    }
}

/// `tokenizers::utils::truncation::truncate_encodings`.
fn truncate_pair(
    a: &mut Encoding,
    b: Option<&mut Encoding>,
    t: &Truncation,
    max_length: usize,
) -> Result<()> {
    let total = a.len() + b.as_ref().map_or(0, |b| b.len());
    if max_length == 0 {
        a.truncate(0, t.stride, t.direction)?;
        if let Some(b) = b {
            b.truncate(0, t.stride, t.direction)?;
        }
        return Ok(());
    }
    if total <= max_length {
        return Ok(());
    }
    let to_remove = total - max_length;
    match (t.strategy, b) {
        (TruncationStrategy::LongestFirst, Some(b)) => {
            let (mut n1, mut n2) = (a.len(), b.len());
            let swap = n1 > n2;
            if swap {
                std::mem::swap(&mut n1, &mut n2);
            }
            n2 = if n1 > max_length {
                n1
            } else {
                n1.max(max_length - n1)
            };
            if n1 + n2 > max_length {
                n1 = max_length / 2;
                n2 = n1 + max_length % 2;
            }
            if swap {
                std::mem::swap(&mut n1, &mut n2);
            }
            a.truncate(n1, t.stride, t.direction)?;
            b.truncate(n2, t.stride, t.direction)
        }
        (TruncationStrategy::LongestFirst, None) => a.truncate(total - to_remove, t.stride, t.direction),
        (TruncationStrategy::OnlyFirst, _) => {
            if a.len() > to_remove {
                a.truncate(a.len() - to_remove, t.stride, t.direction)
            } else {
                Err(too_short())
            }
        }
        (TruncationStrategy::OnlySecond, Some(b)) => {
            if b.len() > to_remove {
                b.truncate(b.len() - to_remove, t.stride, t.direction)
            } else {
                Err(too_short())
            }
        }
        (TruncationStrategy::OnlySecond, None) => Err(TokenizerError::InvalidOptions(
            "truncation only_second needs a second sequence".into(),
        )),
    }
}

fn too_short() -> TokenizerError {
    TokenizerError::InvalidOptions("the sequence to truncate is too short to fit max_length".into())
}

/// Builds the model input from tokenized sequences: truncation, then `[CLS] A [SEP] (B [SEP])`,
/// then padding of a single encoding (`Padding::MaxLength`, `pad_to_multiple_of`).
pub(crate) fn assemble(
    a: Vec<RawToken>,
    b: Option<Vec<RawToken>>,
    opts: &EncodeOptions,
    sp: &Specials,
) -> Result<Encoding> {
    let mut a = Encoding::from_tokens(a, 0);
    let mut b = b.map(|b| Encoding::from_tokens(b, 1));
    let n_added = match (opts.add_special_tokens, b.is_some()) {
        (false, _) => 0,
        (true, false) => 2,
        (true, true) => 3,
    };
    if let Some(t) = &opts.truncation {
        let max_length = t.max_length.checked_sub(n_added).ok_or_else(|| {
            TokenizerError::InvalidOptions(format!(
                "max_length {} leaves no room for {n_added} special tokens",
                t.max_length
            ))
        })?;
        truncate_pair(&mut a, b.as_mut(), t, max_length)?;
    }
    let mut parts = Vec::with_capacity(5);
    if opts.add_special_tokens {
        let need = |s: &Option<Special>, name: &str| {
            s.clone()
                .ok_or_else(|| TokenizerError::MissingToken(name.into()))
        };
        let (cls, sep) = (need(&sp.cls, "[CLS]")?, need(&sp.sep, "[SEP]")?);
        parts.push(Encoding::special(&cls, 0));
        parts.push(a);
        parts.push(Encoding::special(&sep, 0));
        if let Some(b) = b {
            parts.push(b);
            parts.push(Encoding::special(&sep, 1));
        }
    } else {
        parts.push(a);
        parts.extend(b);
    }
    let mut it = parts.into_iter();
    let mut enc = it.next().expect("at least one part");
    for p in it {
        enc.merge_with(p);
    }
    pad_batch(std::slice::from_mut(&mut enc), opts, sp)?;
    Ok(enc)
}

/// `tokenizers::utils::padding::pad_encodings`: pads every encoding (and its windows) to the
/// longest top-level encoding or to the fixed length, rounded up to `pad_to_multiple_of`.
pub(crate) fn pad_batch(encs: &mut [Encoding], opts: &EncodeOptions, sp: &Specials) -> Result<()> {
    let mut target = match opts.padding {
        Padding::None => return Ok(()),
        Padding::Longest => encs.iter().map(Encoding::len).max().unwrap_or(0),
        Padding::MaxLength(n) => n,
    };
    if let Some(m) = opts.pad_to_multiple_of.filter(|&m| m > 0) {
        if target % m > 0 {
            target += m - target % m;
        }
    }
    let pad = sp
        .pad
        .clone()
        .ok_or_else(|| TokenizerError::MissingToken("<pad>".into()))?;
    for e in encs {
        e.pad(target, &pad);
    }
    Ok(())
}

/// The windows of a pair whose second text is long, made one at a time: the encodings that
/// [`super::AlbertTokenizer::encode`] gives with [`TruncationStrategy::OnlySecond`] truncation and
/// special tokens (the first window, then its `overflowing`), from one tokenization of each text,
/// without holding them all (question answering over a long context).
pub struct PairWindows<'t> {
    specials: &'t Specials,
    a: Vec<RawToken>,
    b: Vec<RawToken>,
    /// Tokens of B per window.
    room: usize,
    /// Start of each window after the previous one's.
    step: usize,
    /// Start of the next window in B; `None` when done.
    next: Option<usize>,
}

impl<'t> PairWindows<'t> {
    pub(crate) fn new(specials: &'t Specials, a: Vec<RawToken>, b: Vec<RawToken>, max_length: usize, stride: usize) -> Result<Self> {
        // As `truncate_pair` with OnlySecond after [CLS], [SEP], [SEP] are counted.
        let fit = max_length.checked_sub(3).ok_or_else(|| {
            TokenizerError::InvalidOptions(format!("max_length {max_length} leaves no room for 3 special tokens"))
        })?;
        let room = match (a.len() + b.len()).checked_sub(fit) {
            None | Some(0) => b.len(),
            Some(to_remove) if b.len() > to_remove => b.len() - to_remove,
            Some(_) => return Err(too_short()),
        };
        if room < b.len() && stride >= room {
            return Err(TokenizerError::InvalidOptions(format!(
                "stride {stride} must be smaller than the space left for the truncated sequence ({room} tokens)"
            )));
        }
        Ok(Self { specials, a, b, room, step: room.saturating_sub(stride), next: Some(0) })
    }

    /// How many windows there are in all.
    pub fn windows(&self) -> usize {
        match self.b.len().checked_sub(self.room) {
            None | Some(0) => 1,
            Some(rest) => 1 + rest.div_ceil(self.step),
        }
    }
}

impl super::AlbertTokenizer {
    /// Encodes the pair `a`, `b` in windows of `max_length` tokens sharing `stride` tokens of `b`, as
    /// [`super::AlbertTokenizer::encode`] with [`TruncationStrategy::OnlySecond`] does, one window at a
    /// time (see [`PairWindows`]).
    pub fn encode_pair_windows(&self, a: &str, b: &str, max_length: usize, stride: usize) -> Result<PairWindows<'_>> {
        PairWindows::new(&self.specials, self.tokenize(a)?, self.tokenize(b)?, max_length, stride)
    }

    /// The encoding of token ids taken as they are (a server's already tokenized input): no special token is
    /// added, segment ids are 0, the `[CLS]`, `[SEP]` and `<pad>` ids are flagged special, offsets are `(0, 0)`
    /// (there is no text). An id outside the vocabulary is refused.
    pub fn encoding_of_ids(&self, ids: &[u32]) -> Result<Encoding> {
        let vocab_size = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab_size) {
            return Err(TokenizerError::IdOutOfRange { id, vocab_size });
        }
        let specials = [&self.specials.cls, &self.specials.sep, &self.specials.pad];
        let special = |id: u32| specials.iter().any(|s| s.as_ref().is_some_and(|s| s.id == id));
        let n = ids.len();
        Ok(Encoding {
            ids: ids.to_vec(),
            type_ids: vec![0; n],
            tokens: ids.iter().map(|&id| self.id_to_token(id).unwrap_or_default().to_string()).collect(),
            offsets: vec![(0, 0); n],
            special_tokens_mask: ids.iter().map(|&id| u32::from(special(id))).collect(),
            attention_mask: vec![1; n],
            overflowing: vec![],
        })
    }
}

impl Iterator for PairWindows<'_> {
    type Item = Result<Encoding>;

    fn next(&mut self) -> Option<Result<Encoding>> {
        let start = self.next?;
        let stop = (start + self.room).min(self.b.len());
        self.next = (stop < self.b.len()).then_some(start + self.step);
        Some(assemble(self.a.clone(), Some(self.b[start..stop].to_vec()), &EncodeOptions::default(), self.specials))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(n: usize) -> Vec<RawToken> {
        (0..n)
            .map(|i| RawToken {
                id: 10 + i as u32,
                token: format!("t{i}"),
                offsets: (i, i + 1),
            })
            .collect()
    }

    fn specials() -> Specials {
        let s = |id, t: &str| {
            Some(Special {
                id,
                token: t.into(),
            })
        };
        Specials {
            cls: s(2, "[CLS]"),
            sep: s(3, "[SEP]"),
            pad: s(0, "<pad>"),
        }
    }

    // Hand-derived: 7 tokens, room for 4 (max_length 6 minus [CLS]/[SEP]), stride 1 → windows
    // start every 3 tokens: 0..4, 3..7.
    #[test]
    fn windows_overlap_by_stride() {
        let t = Truncation {
            max_length: 6,
            stride: 1,
            strategy: TruncationStrategy::LongestFirst,
            direction: TruncationDirection::Right,
        };
        let opts = EncodeOptions {
            truncation: Some(t),
            padding: Padding::MaxLength(8),
            ..Default::default()
        };
        let e = assemble(toks(7), None, &opts, &specials()).unwrap();
        assert_eq!(e.ids, [2, 10, 11, 12, 13, 3, 0, 0]);
        assert_eq!(e.attention_mask, [1, 1, 1, 1, 1, 1, 0, 0]);
        assert_eq!(e.special_tokens_mask, [1, 0, 0, 0, 0, 1, 1, 1]);
        assert_eq!(e.overflowing.len(), 1);
        assert_eq!(e.overflowing[0].ids, [2, 13, 14, 15, 16, 3, 0, 0]);
        assert_eq!(e.overflowing[0].offsets[1], (3, 4));
    }

    /// Truncation from the left equals transformers' `truncation_side="left"` (tests/fixtures/tokenizer/
    /// left_truncation.json, made by scripts/reference/make_truncation_fixtures.py): singles with their windows
    /// going backwards from the end, pairs under each strategy.
    #[test]
    fn left_truncation_equals_transformers() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let tok = crate::tokenizer::AlbertTokenizer::from_path(root.join("tests/fixtures/pipelines/pretraining")).unwrap();
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("tests/fixtures/tokenizer/left_truncation.json")).unwrap()).unwrap();
        let cases = fixture["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 9);
        for case in cases {
            let strategy = match case["strategy"].as_str().unwrap() {
                "longest_first" => TruncationStrategy::LongestFirst,
                "only_first" => TruncationStrategy::OnlyFirst,
                _ => TruncationStrategy::OnlySecond,
            };
            let number = |k: &str| case[k].as_u64().unwrap() as usize;
            let truncation = Truncation {
                max_length: number("max_length"),
                stride: number("stride"),
                strategy,
                direction: TruncationDirection::Left,
            };
            let opts = EncodeOptions { truncation: Some(truncation), ..Default::default() };
            let mut first = tok.encode(case["text"].as_str().unwrap(), case["pair"].as_str(), &opts).unwrap();
            let windows = std::mem::take(&mut first.overflowing);
            let mut got: Vec<Encoding> = vec![first];
            if case["pair"].is_null() {
                got.extend(windows);
            }
            let ids: Vec<Vec<u32>> = got.iter().map(|e| e.ids.clone()).collect();
            let types: Vec<Vec<u32>> = got.iter().map(|e| e.type_ids.clone()).collect();
            assert_eq!(serde_json::json!(ids), case["input_ids"], "{case}");
            assert_eq!(serde_json::json!(types), case["token_type_ids"], "{case}");
        }
        // The pipelines' cut (no windows kept) agrees, and says it cut.
        let case = &cases[0];
        let (encoding, cut) =
            tok.encode_truncated_from(case["text"].as_str().unwrap(), 8, TruncationDirection::Left).unwrap();
        assert!(cut);
        assert_eq!(serde_json::json!(encoding.ids), case["input_ids"][0]);
    }

    /// Ids taken as given: cut from either end without re-adding special tokens; ids outside the vocabulary refused.
    #[test]
    fn ids_are_taken_as_given_and_cut_from_either_end() {
        let tok = crate::tokenizer::AlbertTokenizer::from_vocab(&[("▁a", -1.0), ("▁b", -1.0)]).unwrap();
        let cls = tok.token_to_id("[CLS]").unwrap();
        let ids = [cls, 5, 6, 5];
        let e = tok.encoding_of_ids(&ids).unwrap();
        assert_eq!((e.special_tokens_mask.as_slice(), e.type_ids.as_slice()), ([1, 0, 0, 0].as_slice(), [0; 4].as_slice()));
        let mut left = e.clone();
        assert!(left.truncate_to(3, TruncationDirection::Left));
        assert_eq!(left.ids, [5, 6, 5]);
        let mut right = e.clone();
        assert!(right.truncate_to(3, TruncationDirection::Right));
        assert_eq!((right.ids.as_slice(), right.overflowing.len()), ([cls, 5, 6].as_slice(), 0));
        let mut whole = e;
        assert!(!whole.truncate_to(4, TruncationDirection::Left));
        let vocab = tok.vocab_size();
        assert!(matches!(tok.encoding_of_ids(&[vocab as u32]), Err(TokenizerError::IdOutOfRange { .. })));
    }

    #[test]
    fn pair_type_ids_and_multiple_padding() {
        let opts = EncodeOptions {
            padding: Padding::Longest,
            pad_to_multiple_of: Some(4),
            ..Default::default()
        };
        let e = assemble(toks(1), Some(toks(2)), &opts, &specials()).unwrap();
        assert_eq!(e.ids, [2, 10, 3, 10, 11, 3, 0, 0]);
        assert_eq!(e.type_ids, [0, 0, 0, 1, 1, 1, 0, 0]);
    }
}
