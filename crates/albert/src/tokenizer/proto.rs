//! SentencePiece's `ModelProto` (sentencepiece_model.proto), read and written with a minimal
//! protobuf wire-format codec: only the fields the tokenizer uses are decoded; the original bytes
//! are kept so that saving a loaded model writes it back unchanged.

use super::error::{Result, TokenizerError};

/// `ModelProto.SentencePiece.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceType {
    /// An ordinary piece that segmentation may produce.
    Normal = 1,
    /// The unknown piece (`<unk>`); exactly one per model.
    Unknown = 2,
    /// A control symbol (`<pad>`, `[CLS]`, ...): never produced from text.
    Control = 3,
    /// A user-defined symbol: always kept whole, also by normalization.
    UserDefined = 4,
    /// An unused piece, skipped by segmentation.
    Unused = 5,
    /// A byte piece `<0xXX>` for byte fallback.
    Byte = 6,
}

impl PieceType {
    fn from_i64(v: i64) -> Result<Self> {
        Ok(match v {
            1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => {
                return Err(TokenizerError::InvalidModel(format!(
                    "unknown piece type {v}"
                )))
            }
        })
    }
}

/// `TrainerSpec.ModelType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelType {
    /// Unigram language model (ALBERT's).
    Unigram = 1,
    /// Byte-pair encoding.
    Bpe = 2,
    /// Whitespace-delimited words.
    Word = 3,
    /// Characters.
    Char = 4,
}

/// One vocabulary entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    /// The piece text (`▁` marks a preceding space).
    pub piece: String,
    /// Log-probability (unigram) or merge priority (BPE).
    pub score: f32,
    /// The piece's kind.
    pub kind: PieceType,
}

/// The parts of a SentencePiece model that encoding needs.
#[derive(Clone, Debug)]
pub struct ModelProto {
    /// The vocabulary, in id order.
    pub pieces: Vec<Piece>,
    /// `trainer_spec.model_type`.
    pub model_type: ModelType,
    /// `trainer_spec.byte_fallback`.
    pub byte_fallback: bool,
    /// `trainer_spec.treat_whitespace_as_suffix`.
    pub treat_whitespace_as_suffix: bool,
    /// `trainer_spec.unk_surface` (what `<unk>` decodes to).
    pub unk_surface: String,
    /// `normalizer_spec.name`.
    pub normalizer_name: String,
    /// `normalizer_spec.precompiled_charsmap`: the double-array trie and its replacement strings.
    pub precompiled_charsmap: Vec<u8>,
    /// `normalizer_spec.add_dummy_prefix`.
    pub add_dummy_prefix: bool,
    /// `normalizer_spec.remove_extra_whitespaces`.
    pub remove_extra_whitespaces: bool,
    /// `normalizer_spec.escape_whitespaces`.
    pub escape_whitespaces: bool,
}

/// A protobuf field value as it appears on the wire.
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first().ok_or_else(|| truncated("varint"))?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(TokenizerError::InvalidModel(
            "varint longer than 10 bytes".into(),
        ))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(truncated("field"));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    /// The next `(field number, value)`, or `None` at the end.
    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| truncated("length"))?;
                Value::Bytes(self.take(n)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            )),
            w => {
                return Err(TokenizerError::InvalidModel(format!(
                    "unsupported wire type {w}"
                )))
            }
        };
        Ok(Some((key >> 3, value)))
    }
}

fn truncated(what: &str) -> TokenizerError {
    TokenizerError::InvalidModel(format!("truncated protobuf ({what})"))
}

fn as_bytes<'a>(v: Value<'a>, name: &str) -> Result<&'a [u8]> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(TokenizerError::InvalidModel(format!(
            "field {name} has the wrong wire type"
        ))),
    }
}

fn as_varint(v: Value<'_>, name: &str) -> Result<u64> {
    match v {
        Value::Varint(x) => Ok(x),
        _ => Err(TokenizerError::InvalidModel(format!(
            "field {name} has the wrong wire type"
        ))),
    }
}

fn as_string(v: Value<'_>, name: &str) -> Result<String> {
    String::from_utf8(as_bytes(v, name)?.to_vec())
        .map_err(|_| TokenizerError::InvalidModel(format!("field {name} is not UTF-8")))
}

fn parse_piece(buf: &[u8]) -> Result<Piece> {
    let mut r = Reader { buf };
    let mut piece = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    while let Some((n, v)) = r.field()? {
        match n {
            1 => piece.piece = as_string(v, "piece")?,
            2 => match v {
                Value::Fixed32(bits) => piece.score = f32::from_bits(bits),
                _ => return Err(TokenizerError::InvalidModel("score is not a float".into())),
            },
            3 => piece.kind = PieceType::from_i64(as_varint(v, "type")? as i64)?,
            _ => {}
        }
    }
    if piece.piece.is_empty() {
        return Err(TokenizerError::InvalidModel("empty piece".into()));
    }
    Ok(piece)
}

impl ModelProto {
    /// Decodes a serialized `ModelProto`.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut m = ModelProto {
            pieces: Vec::new(),
            model_type: ModelType::Unigram,
            byte_fallback: false,
            treat_whitespace_as_suffix: false,
            unk_surface: " \u{2047} ".into(),
            normalizer_name: String::new(),
            precompiled_charsmap: Vec::new(),
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        };
        let mut r = Reader { buf };
        while let Some((n, v)) = r.field()? {
            match n {
                1 => m.pieces.push(parse_piece(as_bytes(v, "pieces")?)?),
                2 => m.parse_trainer_spec(as_bytes(v, "trainer_spec")?)?,
                3 => m.parse_normalizer_spec(as_bytes(v, "normalizer_spec")?)?,
                _ => {}
            }
        }
        if m.pieces.is_empty() {
            return Err(TokenizerError::InvalidModel("no pieces".into()));
        }
        Ok(m)
    }

    fn parse_trainer_spec(&mut self, buf: &[u8]) -> Result<()> {
        let mut r = Reader { buf };
        while let Some((n, v)) = r.field()? {
            match n {
                3 => {
                    self.model_type = match as_varint(v, "model_type")? {
                        1 => ModelType::Unigram,
                        2 => ModelType::Bpe,
                        3 => ModelType::Word,
                        4 => ModelType::Char,
                        t => {
                            return Err(TokenizerError::InvalidModel(format!(
                                "unknown model_type {t}"
                            )))
                        }
                    }
                }
                24 => {
                    self.treat_whitespace_as_suffix =
                        as_varint(v, "treat_whitespace_as_suffix")? != 0
                }
                35 => self.byte_fallback = as_varint(v, "byte_fallback")? != 0,
                44 => self.unk_surface = as_string(v, "unk_surface")?,
                _ => {}
            }
        }
        Ok(())
    }

    fn parse_normalizer_spec(&mut self, buf: &[u8]) -> Result<()> {
        let mut r = Reader { buf };
        while let Some((n, v)) = r.field()? {
            match n {
                1 => self.normalizer_name = as_string(v, "name")?,
                2 => self.precompiled_charsmap = as_bytes(v, "precompiled_charsmap")?.to_vec(),
                3 => self.add_dummy_prefix = as_varint(v, "add_dummy_prefix")? != 0,
                4 => self.remove_extra_whitespaces = as_varint(v, "remove_extra_whitespaces")? != 0,
                5 => self.escape_whitespaces = as_varint(v, "escape_whitespaces")? != 0,
                _ => {}
            }
        }
        Ok(())
    }

    /// Serializes a model with ALBERT's trainer conventions (`<pad>` id 0, `<unk>` id 1, no BOS/EOS),
    /// as the sentencepiece library's trainer would write it for these pieces.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Writer::default();
        for p in &self.pieces {
            let mut w = Writer::default();
            w.bytes(1, p.piece.as_bytes());
            w.fixed32(2, p.score.to_bits());
            w.varint(3, p.kind as i64);
            out.bytes(1, &w.buf);
        }
        let id_of = |kind: PieceType, name: &str| {
            self.pieces
                .iter()
                .position(|p| p.kind == kind && p.piece == name)
                .map_or(-1, |i| i as i64)
        };
        let mut t = Writer::default();
        t.varint(3, self.model_type as i64);
        t.varint(4, self.pieces.len() as i64);
        t.varint(24, i64::from(self.treat_whitespace_as_suffix));
        for p in self.pieces.iter().filter(|p| p.kind == PieceType::Control) {
            if p.piece != "<pad>" {
                t.bytes(30, p.piece.as_bytes());
            }
        }
        for p in self
            .pieces
            .iter()
            .filter(|p| p.kind == PieceType::UserDefined)
        {
            t.bytes(31, p.piece.as_bytes());
        }
        t.varint(35, i64::from(self.byte_fallback));
        let unk = self
            .pieces
            .iter()
            .position(|p| p.kind == PieceType::Unknown)
            .map_or(-1, |i| i as i64);
        t.varint(40, unk);
        t.varint(41, id_of(PieceType::Control, "<s>"));
        t.varint(42, id_of(PieceType::Control, "</s>"));
        t.varint(43, id_of(PieceType::Control, "<pad>"));
        t.bytes(44, self.unk_surface.as_bytes());
        if unk >= 0 {
            t.bytes(45, self.pieces[unk as usize].piece.as_bytes());
        }
        out.bytes(2, &t.buf);
        let mut n = Writer::default();
        n.bytes(1, self.normalizer_name.as_bytes());
        n.bytes(2, &self.precompiled_charsmap);
        n.varint(3, i64::from(self.add_dummy_prefix));
        n.varint(4, i64::from(self.remove_extra_whitespaces));
        n.varint(5, i64::from(self.escape_whitespaces));
        out.bytes(3, &n.buf);
        out.buf
    }
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// An int32/int64/bool/enum field; negative values take ten bytes, as protobuf requires.
    fn varint(&mut self, field: u64, v: i64) {
        self.raw_varint(field << 3);
        self.raw_varint(v as u64);
    }

    fn fixed32(&mut self, field: u64, bits: u32) {
        self.raw_varint((field << 3) | 5);
        self.buf.extend_from_slice(&bits.to_le_bytes());
    }

    fn bytes(&mut self, field: u64, b: &[u8]) {
        self.raw_varint((field << 3) | 2);
        self.raw_varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_pieces_and_specs() {
        let m = ModelProto {
            pieces: vec![
                Piece {
                    piece: "<pad>".into(),
                    score: 0.0,
                    kind: PieceType::Control,
                },
                Piece {
                    piece: "<unk>".into(),
                    score: 0.0,
                    kind: PieceType::Unknown,
                },
                Piece {
                    piece: "▁a".into(),
                    score: -1.5,
                    kind: PieceType::Normal,
                },
            ],
            model_type: ModelType::Unigram,
            byte_fallback: false,
            treat_whitespace_as_suffix: false,
            unk_surface: " \u{2047} ".into(),
            normalizer_name: "identity".into(),
            precompiled_charsmap: vec![],
            add_dummy_prefix: true,
            remove_extra_whitespaces: false,
            escape_whitespaces: true,
        };
        let back = ModelProto::parse(&m.to_bytes()).unwrap();
        assert_eq!(back.pieces, m.pieces);
        assert_eq!(back.normalizer_name, "identity");
        assert!(!back.remove_extra_whitespaces);
    }

    #[test]
    fn rejects_garbage() {
        assert!(ModelProto::parse(b"\x0a\xff").is_err());
        assert!(ModelProto::parse(b"").is_err());
    }
}
