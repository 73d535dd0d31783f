//! A SentencePiece processor: the model's normalizer (precompiled charsmap, whitespace handling)
//! and its segmentation (unigram Viterbi, BPE, char, word), with byte fallback. It follows the
//! sentencepiece library (normalizer.cc, unigram_model.cc `EncodeOptimized`, bpe_model.cc,
//! sentencepiece_processor.cc) step for step, including its f32/f64 score arithmetic.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::charsmap::Charsmap;
use super::error::{Result, TokenizerError};
use super::proto::{ModelProto, ModelType, PieceType};
use super::trie::ByteTrie;

const SPACE_SYMBOL: &str = "\u{2581}";
/// sentencepiece's `kUnkPenalty`.
const UNK_PENALTY: f32 = 10.0;

/// One segment of the normalized text.
#[derive(Clone, Debug, PartialEq)]
pub struct SpmPiece {
    /// Vocabulary id.
    pub id: u32,
    /// The surface text of an `<unk>` piece (what sentencepiece reports as its piece);
    /// `None` for vocabulary pieces. See [`SentencePiece::piece_text`].
    pub surface: Option<String>,
    /// Byte range in the *input* text covered by the piece's non-space characters.
    pub source: (usize, usize),
}

/// A loaded SentencePiece model.
#[derive(Clone, Debug)]
pub struct SentencePiece {
    pub(crate) proto: ModelProto,
    charsmap: Option<Charsmap>,
    /// NORMAL, USER_DEFINED and UNUSED pieces (sentencepiece's `pieces_`).
    trie: ByteTrie,
    /// CONTROL, UNKNOWN and BYTE pieces (sentencepiece's `reserved_id_map_`).
    reserved: HashMap<String, u32>,
    user_defined: ByteTrie,
    has_user_defined: bool,
    unk_id: u32,
    min_score: f32,
    max_score: f32,
    byte_ids: Vec<u32>,
}

impl SentencePiece {
    /// Builds a processor from a parsed model, validating it as sentencepiece does.
    pub fn new(proto: ModelProto) -> Result<Self> {
        let bad = |m: String| Err(TokenizerError::InvalidModel(m));
        let charsmap = Charsmap::parse(&proto.precompiled_charsmap)?;
        let mut reserved = HashMap::new();
        let mut normal: HashMap<&str, u32> = HashMap::new();
        let mut unk_id = None;
        let mut byte_ids = vec![u32::MAX; 256];
        let (mut min_score, mut max_score) = (f32::MAX, f32::MIN_POSITIVE);
        for (i, p) in proto.pieces.iter().enumerate() {
            let i = i as u32;
            let fresh = match p.kind {
                PieceType::Normal | PieceType::UserDefined | PieceType::Unused => {
                    normal.insert(&p.piece, i).is_none()
                }
                _ => reserved.insert(p.piece.clone(), i).is_none(),
            };
            if !fresh {
                return bad(format!("piece {:?} is defined twice", p.piece));
            }
            match p.kind {
                PieceType::Normal => {
                    min_score = min_score.min(p.score);
                    max_score = max_score.max(p.score);
                }
                PieceType::Unknown if unk_id.is_some() => return bad("two <unk> pieces".into()),
                PieceType::Unknown => unk_id = Some(i),
                PieceType::Byte => {
                    let b = byte_of_piece(&p.piece).ok_or_else(|| {
                        TokenizerError::InvalidModel(format!("bad byte piece {:?}", p.piece))
                    })?;
                    byte_ids[b as usize] = i;
                }
                _ => {}
            }
        }
        let unk_id = unk_id.ok_or_else(|| TokenizerError::InvalidModel("no <unk> piece".into()))?;
        if proto.byte_fallback && byte_ids.contains(&u32::MAX) {
            return bad("byte_fallback is set but not all 256 byte pieces exist".into());
        }
        let mut entries: Vec<(&[u8], u32)> =
            normal.iter().map(|(k, &v)| (k.as_bytes(), v)).collect();
        entries.sort_unstable();
        let trie = ByteTrie::new(entries);
        let user: Vec<(&[u8], u32)> = proto
            .pieces
            .iter()
            .enumerate()
            .filter(|(_, p)| p.kind == PieceType::UserDefined)
            .map(|(i, p)| (p.piece.as_bytes(), i as u32))
            .collect();
        let has_user_defined = !user.is_empty();
        Ok(Self {
            charsmap,
            trie,
            reserved,
            user_defined: ByteTrie::new(user),
            has_user_defined,
            unk_id,
            min_score,
            max_score,
            byte_ids,
            proto,
        })
    }

    /// The `<unk>` id.
    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    /// sentencepiece's `PieceToId`: reserved pieces first, then ordinary ones, else `<unk>`.
    pub fn piece_to_id(&self, piece: &str) -> u32 {
        if let Some(&id) = self.reserved.get(piece) {
            return id;
        }
        self.trie.get(piece.as_bytes()).unwrap_or(self.unk_id)
    }

    /// The piece string sentencepiece reports: the surface text for `<unk>`, else the vocabulary's.
    pub fn piece_text<'a>(&'a self, p: &'a SpmPiece) -> &'a str {
        p.surface
            .as_deref()
            .unwrap_or(&self.proto.pieces[p.id as usize].piece)
    }

    fn kind(&self, id: u32) -> PieceType {
        self.proto.pieces[id as usize].kind
    }

    /// Length of a user-defined symbol at the start of `input`, if any (`PrefixMatcher`).
    fn user_prefix(&self, input: &[u8]) -> Option<usize> {
        if !self.has_user_defined {
            return None;
        }
        self.user_defined.longest_prefix(input).map(|(n, _)| n)
    }

    /// `Normalizer::NormalizePrefix`: the replacement for the next chunk and its length in bytes.
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a str, usize) {
        let bytes = input.as_bytes();
        if let Some(n) = self.user_prefix(bytes) {
            return (&input[..n], n);
        }
        if let Some((n, rep)) = self.charsmap.as_ref().and_then(|c| c.longest_prefix(bytes)) {
            return (rep, n);
        }
        let n = input.chars().next().map_or(0, char::len_utf8);
        (&input[..n], n)
    }

    /// `Normalizer::Normalize`: the normalized text and, per normalized byte (plus one past the
    /// end), the input byte it came from.
    pub fn normalize(&self, input: &str) -> (String, Vec<usize>) {
        let p = &self.proto;
        let (mut out, mut map) = (
            String::with_capacity(input.len() * 3 / 2),
            Vec::with_capacity(input.len() * 3 / 2),
        );
        let mut rest = input;
        let mut consumed = 0;
        if p.remove_extra_whitespaces {
            while !rest.is_empty() {
                let (rep, n) = self.normalize_prefix(rest);
                if rep != " " {
                    break;
                }
                rest = &rest[n..];
                consumed += n;
            }
        }
        if rest.is_empty() {
            map.push(consumed);
            return (out, map);
        }
        let space = if p.escape_whitespaces {
            SPACE_SYMBOL
        } else {
            " "
        };
        let suffix = p.treat_whitespace_as_suffix;
        if !suffix && p.add_dummy_prefix {
            out.push_str(space);
            map.extend(std::iter::repeat_n(consumed, space.len()));
        }
        let mut prev_space = p.remove_extra_whitespaces;
        while !rest.is_empty() {
            let (rep, n) = self.normalize_prefix(rest);
            let mut sp = rep;
            if prev_space {
                sp = sp.trim_start_matches(' ');
            }
            if !sp.is_empty() {
                for ch in sp.chars() {
                    if ch == ' ' && p.escape_whitespaces {
                        out.push_str(SPACE_SYMBOL);
                        map.extend(std::iter::repeat_n(consumed, SPACE_SYMBOL.len()));
                    } else {
                        out.push(ch);
                        map.extend(std::iter::repeat_n(consumed, ch.len_utf8()));
                    }
                }
                prev_space = sp.ends_with(' ');
            }
            consumed += n;
            rest = &rest[n..];
            if !p.remove_extra_whitespaces {
                prev_space = false;
            }
        }
        if p.remove_extra_whitespaces {
            while out.ends_with(space) {
                let len = out.len() - space.len();
                consumed = map[len];
                out.truncate(len);
                map.truncate(len);
            }
        }
        if suffix && p.add_dummy_prefix {
            out.push_str(space);
            map.extend(std::iter::repeat_n(consumed, space.len()));
        }
        map.push(consumed);
        (out, map)
    }

    /// Normalizes and segments `input` (sentencepiece's `Encode` with `out_type=str` and ids).
    pub fn encode(&self, input: &str) -> Vec<SpmPiece> {
        let (norm, map) = self.normalize(input);
        if norm.is_empty() {
            return Vec::new();
        }
        let segments = match self.proto.model_type {
            ModelType::Unigram => self.encode_unigram(&norm),
            ModelType::Bpe => self.encode_bpe(&norm),
            ModelType::Char => self.encode_char(&norm),
            ModelType::Word => self.encode_word(&norm),
        };
        // Source end of each normalized byte: where the next chunk of input starts.
        let mut src_end = vec![0; norm.len()];
        let mut next = map[norm.len()];
        for b in (0..norm.len()).rev() {
            if map[b + 1] > map[b] {
                next = map[b + 1];
            }
            src_end[b] = next.max(map[b]);
        }
        let mut pieces = Vec::with_capacity(segments.len());
        for (start, end, id) in segments {
            let surface = &norm[start..end];
            let first = surface.find(|c| c != '\u{2581}').map(|i| start + i);
            // A piece of only `▁` gets the span of the character after it, as transformers does.
            let source = match first {
                Some(f) => (map[f], src_end[end - 1]),
                None if end < norm.len() => (map[end], src_end[end]),
                None => (map[end], map[end]),
            };
            if id == self.unk_id && self.proto.byte_fallback {
                for &b in surface.as_bytes() {
                    let bid = self.byte_ids[b as usize];
                    pieces.push(SpmPiece {
                        id: bid,
                        surface: None,
                        source,
                    });
                }
            } else if id == self.unk_id {
                // Consecutive unknown pieces merge into one (sentencepiece_processor.cc).
                match pieces.last_mut() {
                    Some(SpmPiece {
                        id: prev_id,
                        surface: Some(prev),
                        source: prev_source,
                    }) if *prev_id == self.unk_id => {
                        prev.push_str(surface);
                        prev_source.1 = source.1;
                    }
                    _ => pieces.push(SpmPiece {
                        id,
                        surface: Some(surface.to_string()),
                        source,
                    }),
                }
            } else {
                pieces.push(SpmPiece {
                    id,
                    surface: None,
                    source,
                });
            }
        }
        pieces
    }

    /// `unigram::Model::EncodeOptimized`: Viterbi over byte positions. Returns `(start, end, id)`.
    fn encode_unigram(&self, norm: &str) -> Vec<(usize, usize, u32)> {
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f32,
            starts_at: usize,
            set: bool,
        }
        let bytes = norm.as_bytes();
        let size = bytes.len();
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Best {
                id: 0,
                score: 0.0,
                starts_at: 0,
                set: false
            };
            size + 1
        ];
        let mut starts_at = 0;
        while starts_at < size {
            let till_here = best[starts_at].score;
            let mblen = utf8_len(bytes[starts_at]).min(size - starts_at);
            let mut has_single = false;
            let mut node = ByteTrie::ROOT;
            for (key_pos, &b) in bytes.iter().enumerate().skip(starts_at) {
                node = match self.trie.step(node, b) {
                    Some(n) => n,
                    None => break,
                };
                let Some(id) = self.trie.value(node) else {
                    continue;
                };
                let kind = self.kind(id);
                if kind == PieceType::Unused {
                    continue;
                }
                let end = key_pos + 1;
                let length = end - starts_at;
                // As in C++: the user-defined bonus is computed in double, the rest in float.
                let (cand, cand64) = if kind == PieceType::UserDefined {
                    let c = (length as f32 * self.max_score) as f64 - 0.1 + till_here as f64;
                    (c as f32, c)
                } else {
                    let c = self.proto.pieces[id as usize].score + till_here;
                    (c, c as f64)
                };
                let t = &mut best[end];
                if !t.set || cand64 > t.score as f64 {
                    *t = Best {
                        id,
                        score: cand,
                        starts_at,
                        set: true,
                    };
                }
                if length == mblen {
                    has_single = true;
                }
            }
            if !has_single {
                let cand = unk_score + till_here;
                let t = &mut best[starts_at + mblen];
                if !t.set || cand > t.score {
                    *t = Best {
                        id: self.unk_id,
                        score: cand,
                        starts_at,
                        set: true,
                    };
                }
            }
            starts_at += mblen;
        }
        let mut out = Vec::new();
        let mut end = size;
        while end > 0 {
            let b = best[end];
            out.push((b.starts_at, end, b.id));
            end = b.starts_at;
        }
        out.reverse();
        out
    }

    /// `bpe::Model::Encode`: greedy merges by score (ties: leftmost), with `UNUSED` resegmentation.
    fn encode_bpe(&self, norm: &str) -> Vec<(usize, usize, u32)> {
        #[derive(Clone, Copy)]
        struct Symbol {
            prev: isize,
            next: isize,
            freeze: bool,
            start: usize,
            len: usize,
        }
        #[derive(PartialEq)]
        struct Pair {
            score: f32,
            left: usize,
            right: usize,
            size: usize,
        }
        impl Eq for Pair {}
        impl Ord for Pair {
            fn cmp(&self, o: &Self) -> Ordering {
                self.score
                    .partial_cmp(&o.score)
                    .unwrap_or(Ordering::Equal)
                    .then(o.left.cmp(&self.left))
            }
        }
        impl PartialOrd for Pair {
            fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
                Some(self.cmp(o))
            }
        }
        let bytes = norm.as_bytes();
        let mut symbols: Vec<Symbol> = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let (len, freeze) = match self.user_prefix(&bytes[pos..]) {
                Some(n) => (n, true),
                None => (utf8_len(bytes[pos]).min(bytes.len() - pos), false),
            };
            let i = symbols.len() as isize;
            symbols.push(Symbol {
                prev: i - 1,
                next: if pos + len < bytes.len() { i + 1 } else { -1 },
                freeze,
                start: pos,
                len,
            });
            pos += len;
        }
        // Merged UNUSED piece -> the two pieces it was made of (keyed by string, as in C++).
        let mut rev_merge: HashMap<&str, (&str, &str)> = HashMap::new();
        let mut agenda = BinaryHeap::new();
        let add = |l: isize,
                   r: isize,
                   symbols: &[Symbol],
                   agenda: &mut BinaryHeap<Pair>,
                   rev: &mut HashMap<_, _>| {
            if l < 0 || r < 0 {
                return;
            }
            let (a, b) = (symbols[l as usize], symbols[r as usize]);
            if a.freeze || b.freeze {
                return;
            }
            let piece = &norm[a.start..a.start + a.len + b.len];
            let Some(id) = self.trie.get(piece.as_bytes()) else {
                return;
            };
            agenda.push(Pair {
                score: self.proto.pieces[id as usize].score,
                left: l as usize,
                right: r as usize,
                size: piece.len(),
            });
            if self.kind(id) == PieceType::Unused {
                rev.insert(
                    piece,
                    (
                        &norm[a.start..a.start + a.len],
                        &norm[b.start..b.start + b.len],
                    ),
                );
            }
        };
        for i in 1..symbols.len() {
            add(
                i as isize - 1,
                i as isize,
                &symbols,
                &mut agenda,
                &mut rev_merge,
            );
        }
        while let Some(top) = agenda.pop() {
            let (l, r) = (symbols[top.left], symbols[top.right]);
            if l.len == 0 || r.len == 0 || l.len + r.len != top.size {
                continue;
            }
            symbols[top.left].len += r.len;
            symbols[top.left].next = r.next;
            if r.next >= 0 {
                symbols[r.next as usize].prev = top.left as isize;
            }
            symbols[top.right].len = 0;
            let left = symbols[top.left];
            add(
                left.prev,
                top.left as isize,
                &symbols,
                &mut agenda,
                &mut rev_merge,
            );
            add(
                top.left as isize,
                left.next,
                &symbols,
                &mut agenda,
                &mut rev_merge,
            );
        }
        let mut out = Vec::new();
        let mut stack: Vec<&str> = Vec::new();
        let mut i = 0isize;
        while i >= 0 && !symbols.is_empty() {
            let s = symbols[i as usize];
            let mut pos = s.start;
            stack.push(&norm[s.start..s.start + s.len]);
            while let Some(w) = stack.pop() {
                let id = self.piece_to_id(w);
                match rev_merge.get(w) {
                    Some(&(a, b)) if self.kind(id) == PieceType::Unused => {
                        stack.push(b);
                        stack.push(a);
                    }
                    _ => {
                        out.push((pos, pos + w.len(), id));
                        pos += w.len();
                    }
                }
            }
            i = s.next;
        }
        out
    }

    /// `character::Model::Encode`.
    fn encode_char(&self, norm: &str) -> Vec<(usize, usize, u32)> {
        let bytes = norm.as_bytes();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let len = self
                .user_prefix(&bytes[pos..])
                .unwrap_or_else(|| utf8_len(bytes[pos]).min(bytes.len() - pos));
            out.push((pos, pos + len, self.piece_to_id(&norm[pos..pos + len])));
            pos += len;
        }
        out
    }

    /// `word::Model::Encode`: words start at each space symbol (`SplitIntoWords`).
    fn encode_word(&self, norm: &str) -> Vec<(usize, usize, u32)> {
        let mut starts: Vec<usize> = norm
            .match_indices(SPACE_SYMBOL)
            .map(|(i, _)| i)
            .filter(|&i| i > 0)
            .collect();
        if self.proto.treat_whitespace_as_suffix {
            starts = norm
                .match_indices(SPACE_SYMBOL)
                .map(|(i, _)| i + SPACE_SYMBOL.len())
                .filter(|&i| i < norm.len())
                .collect();
        }
        let mut bounds = vec![0];
        bounds.extend(starts);
        bounds.push(norm.len());
        bounds.dedup();
        bounds
            .windows(2)
            .map(|w| (w[0], w[1], self.piece_to_id(&norm[w[0]..w[1]])))
            .collect()
    }

    /// sentencepiece's `Decode` of piece strings: byte pieces become bytes, `▁` becomes a space,
    /// the dummy-prefix space is dropped, and `<unk>` becomes the model's unk surface.
    pub fn decode_pieces<S: AsRef<str>>(&self, pieces: &[S]) -> String {
        let mut bytes: Vec<u8> = Vec::new();
        let mut out = String::new();
        let flush = |bytes: &mut Vec<u8>, out: &mut String| {
            out.push_str(&String::from_utf8_lossy(bytes));
            bytes.clear();
        };
        let mut first = true;
        for p in pieces {
            let p = p.as_ref();
            let id = self.piece_to_id(p);
            match self.kind(id) {
                PieceType::Byte => bytes.push(byte_of_piece(p).expect("byte piece")),
                PieceType::Control => {}
                PieceType::Unknown => {
                    flush(&mut bytes, &mut out);
                    out.push_str(&self.proto.unk_surface);
                }
                _ => {
                    flush(&mut bytes, &mut out);
                    let text = p.replace(SPACE_SYMBOL, " ");
                    let strip = first
                        && self.proto.add_dummy_prefix
                        && !self.proto.treat_whitespace_as_suffix;
                    out.push_str(if strip {
                        text.strip_prefix(' ').unwrap_or(&text)
                    } else {
                        &text
                    });
                }
            }
            first = false;
        }
        flush(&mut bytes, &mut out);
        out
    }
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

/// `<0xAB>` → `0xAB`.
pub(crate) fn byte_of_piece(p: &str) -> Option<u8> {
    let hex = p.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 || hex.chars().any(|c| c.is_ascii_lowercase()) {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}
