//! Writing a SentencePiece model as the files transformers reads: `tokenizer.json` laid out as
//! transformers 5's `AlbertTokenizer` builds it from a `spiece.model`, and `tokenizer_config.json`.

use serde_json::{json, Value};

use super::proto::{ModelProto, PieceType};

/// Standard base64 with padding (the encoding of `precompiled_charsmap` in tokenizer.json).
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `tokenizer.json` transformers' `AlbertTokenizer` writes for this model: Unigram with
/// `unk_id` 1, ALBERT's normalizer sequence, whitespace split + Metaspace, and the
/// `[CLS] A [SEP] B [SEP]` template. Control and unknown pieces become special added tokens,
/// user-defined pieces non-special ones.
pub fn tokenizer_json(m: &ModelProto, do_lower_case: bool, keep_accents: bool) -> Value {
    let mut normalizers = vec![
        json!({"type": "Replace", "pattern": {"String": "``"}, "content": "\""}),
        json!({"type": "Replace", "pattern": {"String": "''"}, "content": "\""}),
    ];
    if !keep_accents {
        normalizers.push(json!({"type": "NFKD"}));
        normalizers.push(json!({"type": "StripAccents"}));
    }
    if do_lower_case {
        normalizers.push(json!({"type": "Lowercase"}));
    }
    if !m.precompiled_charsmap.is_empty() {
        normalizers.push(
            json!({"type": "Precompiled", "precompiled_charsmap": base64(&m.precompiled_charsmap)}),
        );
    }
    let added: Vec<Value> = m
        .pieces
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.kind, PieceType::Control | PieceType::Unknown | PieceType::UserDefined))
        .map(|(i, p)| {
            json!({"id": i, "content": p.piece, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": p.kind != PieceType::UserDefined})
        })
        .collect();
    let id_of = |s: &str| m.pieces.iter().position(|p| p.piece == s);
    let special = |s: &str| json!({"id": s, "ids": [id_of(s)], "tokens": [s]});
    let vocab: Vec<Value> = m
        .pieces
        .iter()
        .map(|p| json!([p.piece, f64::from(p.score)]))
        .collect();
    let metaspace = json!({"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true});
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": normalizers},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}}
            ],
            "pair": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 1}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 1}}
            ],
            "special_tokens": {"[CLS]": special("[CLS]"), "[SEP]": special("[SEP]")}
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": 1, "vocab": vocab, "byte_fallback": false}
    })
}

/// `tokenizer_config.json` for transformers' `AlbertTokenizer`.
pub fn tokenizer_config(do_lower_case: bool, keep_accents: bool) -> Value {
    json!({
        "add_prefix_space": true,
        "bos_token": "[CLS]",
        "cls_token": "[CLS]",
        "do_lower_case": do_lower_case,
        "eos_token": "[SEP]",
        "keep_accents": keep_accents,
        "mask_token": "[MASK]",
        "model_max_length": 512,
        "pad_token": "<pad>",
        "remove_space": true,
        "sep_token": "[SEP]",
        "tokenizer_class": "AlbertTokenizer",
        "trim_offsets": true,
        "unk_token": "<unk>"
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}
