//! Python's `difflib.SequenceMatcher` (CPython 3.11 `Lib/difflib.py`) over token ids, as CrowS-Pairs' `metric.py`
//! runs it (`get_span`, lines 76-95: `SequenceMatcher(None, seq1, seq2).get_opcodes()`) to find the tokens two
//! sentences share. The same longest-match recursion, tie-breaking and autojunk heuristic, so that the same tokens
//! are masked; only `isjunk=None` is needed, so no element is junk beyond autojunk's popular ones.

use std::collections::HashMap;
use std::ops::Range;

/// What an opcode does to turn `a[a_range]` into `b[b_range]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `a[a_range]` is replaced by `b[b_range]`.
    Replace,
    /// `a[a_range]` is deleted (`b_range` is empty).
    Delete,
    /// `b[b_range]` is inserted (`a_range` is empty).
    Insert,
    /// The two ranges are equal.
    Equal,
}

impl Tag {
    /// difflib's name of the tag.
    pub fn name(self) -> &'static str {
        match self {
            Tag::Replace => "replace",
            Tag::Delete => "delete",
            Tag::Insert => "insert",
            Tag::Equal => "equal",
        }
    }
}

/// One step of `get_opcodes`: `(tag, i1, i2, j1, j2)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opcode {
    /// What the step does.
    pub tag: Tag,
    /// `i1..i2`, in `a`.
    pub a: Range<usize>,
    /// `j1..j2`, in `b`.
    pub b: Range<usize>,
}

/// A matching block: `a[a..a + size] == b[b..b + size]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    /// Start in `a`.
    pub a: usize,
    /// Start in `b`.
    pub b: usize,
    /// Length.
    pub size: usize,
}

/// `SequenceMatcher(None, a, b)` with `autojunk=True`.
pub struct SequenceMatcher<'s> {
    a: &'s [u32],
    b: &'s [u32],
    /// Each element of `b` to the positions where it occurs, increasing, popular elements left out (`__chain_b`).
    b2j: HashMap<u32, Vec<usize>>,
}

/// `b` at least this long turns autojunk on (`__chain_b`: `n >= 200`).
const AUTOJUNK_MIN_LEN: usize = 200;

impl<'s> SequenceMatcher<'s> {
    /// Indexes `b` (`__chain_b`): with `len(b) >= 200`, an element occurring more than `len(b) // 100 + 1` times is
    /// "popular" and never starts a match (it can still extend one, as in Python).
    pub fn new(a: &'s [u32], b: &'s [u32]) -> Self {
        let mut b2j: HashMap<u32, Vec<usize>> = HashMap::new();
        for (j, &x) in b.iter().enumerate() {
            b2j.entry(x).or_default().push(j);
        }
        if b.len() >= AUTOJUNK_MIN_LEN {
            let ntest = b.len() / 100 + 1;
            b2j.retain(|_, positions| positions.len() <= ntest);
        }
        Self { a, b, b2j }
    }

    /// `find_longest_match(alo, ahi, blo, bhi)`: the longest block of `a[alo..ahi]` equal to one of `b[blo..bhi]`,
    /// the earliest in `a` among the longest, then the earliest in `b`; extended over popular elements at both ends.
    fn find_longest_match(&self, alo: usize, ahi: usize, blo: usize, bhi: usize) -> Match {
        let (a, b) = (self.a, self.b);
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0);
        // j2len[j]: length of the longest match ending with a[i - 1] and b[j]
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        for (i, x) in a.iter().enumerate().take(ahi).skip(alo) {
            let mut newj2len = HashMap::new();
            for &j in self.b2j.get(x).map(Vec::as_slice).unwrap_or_default() {
                if j < blo {
                    continue;
                }
                if j >= bhi {
                    break;
                }
                let k = j.checked_sub(1).and_then(|p| j2len.get(&p)).copied().unwrap_or(0) + 1;
                newj2len.insert(j, k);
                if k > bestsize {
                    (besti, bestj, bestsize) = (i + 1 - k, j + 1 - k, k);
                }
            }
            j2len = newj2len;
        }
        // Extend over equal elements b2j left out (popular ones). With isjunk=None the set `bjunk` is empty: every
        // element passes `not isbjunk(...)`, and difflib's two further loops, over junk elements, never run.
        while besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1] {
            (besti, bestj, bestsize) = (besti - 1, bestj - 1, bestsize + 1);
        }
        while besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] == b[bestj + bestsize] {
            bestsize += 1;
        }
        Match { a: besti, b: bestj, size: bestsize }
    }

    /// `get_matching_blocks()`: the matching blocks in increasing order, adjacent ones merged, ending with the
    /// sentinel `(len(a), len(b), 0)`.
    pub fn matching_blocks(&self) -> Vec<Match> {
        let (la, lb) = (self.a.len(), self.b.len());
        let mut queue = vec![(0, la, 0, lb)];
        let mut blocks = Vec::new();
        while let Some((alo, ahi, blo, bhi)) = queue.pop() {
            let m = self.find_longest_match(alo, ahi, blo, bhi);
            if m.size > 0 {
                blocks.push(m);
                if alo < m.a && blo < m.b {
                    queue.push((alo, m.a, blo, m.b));
                }
                if m.a + m.size < ahi && m.b + m.size < bhi {
                    queue.push((m.a + m.size, ahi, m.b + m.size, bhi));
                }
            }
        }
        blocks.sort();
        let mut merged: Vec<Match> = Vec::with_capacity(blocks.len() + 1);
        for m in blocks {
            match merged.last_mut() {
                Some(last) if last.a + last.size == m.a && last.b + last.size == m.b => last.size += m.size,
                _ => merged.push(m),
            }
        }
        merged.push(Match { a: la, b: lb, size: 0 });
        merged
    }

    /// `get_opcodes()`: the steps that turn `a` into `b`.
    pub fn opcodes(&self) -> Vec<Opcode> {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        for m in self.matching_blocks() {
            let tag = match (i < m.a, j < m.b) {
                (true, true) => Some(Tag::Replace),
                (true, false) => Some(Tag::Delete),
                (false, true) => Some(Tag::Insert),
                (false, false) => None,
            };
            if let Some(tag) = tag {
                out.push(Opcode { tag, a: i..m.a, b: j..m.b });
            }
            (i, j) = (m.a + m.size, m.b + m.size);
            if m.size > 0 {
                out.push(Opcode { tag: Tag::Equal, a: m.a..i, b: m.b..j });
            }
        }
        out
    }
}

/// The positions of the tokens `a` and `b` share, pairwise (`get_span` of `metric.py`, lines 76-95): the ranges
/// of the `equal` opcodes, concatenated.
pub fn shared_positions(a: &[u32], b: &[u32]) -> (Vec<usize>, Vec<usize>) {
    let (mut in_a, mut in_b) = (Vec::new(), Vec::new());
    for op in SequenceMatcher::new(a, b).opcodes().into_iter().filter(|op| op.tag == Tag::Equal) {
        in_a.extend(op.a);
        in_b.extend(op.b);
    }
    (in_a, in_b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Case {
        a: Vec<u32>,
        b: Vec<u32>,
        opcodes: Vec<(String, usize, usize, usize, usize)>,
    }

    #[derive(serde::Deserialize)]
    struct Cases {
        cases: Vec<Case>,
    }

    /// Python's own `get_opcodes` (tests/fixtures/crows_pairs/difflib.json, made by
    /// scripts/reference/make_crows_pairs_fixtures.py): CrowS-Pairs token ids, edge cases, random sequences over
    /// small alphabets (many equally long matches: the tie-breaking shows), and sequences of 200 and more where
    /// autojunk sets popular elements aside.
    #[test]
    fn opcodes_equal_pythons_difflib() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/crows_pairs/difflib.json");
        let cases: Cases = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(cases.cases.len() >= 80);
        let mut autojunk = 0;
        for (n, case) in cases.cases.iter().enumerate() {
            let ours: Vec<(String, usize, usize, usize, usize)> = SequenceMatcher::new(&case.a, &case.b)
                .opcodes()
                .into_iter()
                .map(|op| (op.tag.name().to_string(), op.a.start, op.a.end, op.b.start, op.b.end))
                .collect();
            assert_eq!(ours, case.opcodes, "case {n}: a={:?} b={:?}", case.a, case.b);
            autojunk += usize::from(case.b.len() >= AUTOJUNK_MIN_LEN);
        }
        assert!(autojunk >= 5, "the fixture should exercise autojunk");
    }

    /// Autojunk changes the answer: in a `b` of 200 elements an element is popular when it occurs more than
    /// 200 // 100 + 1 = 3 times. Three 7s are kept and a lone 7 in `a` matches the first; a fourth makes 7 popular
    /// and nothing can start a match (Python gives the same, as the fixture's long cases check).
    #[test]
    fn popular_elements_start_no_match() {
        let mut b = vec![1u32; 200];
        for pos in [10, 20, 30] {
            b[pos] = 7;
        }
        assert_eq!(SequenceMatcher::new(&[7], &b).matching_blocks()[0], Match { a: 0, b: 10, size: 1 });
        b[40] = 7;
        assert_eq!(SequenceMatcher::new(&[7], &b).matching_blocks(), [Match { a: 1, b: 200, size: 0 }]);
        // Below 200 elements nothing is popular.
        assert_eq!(SequenceMatcher::new(&[7], &b[..199]).matching_blocks()[0], Match { a: 0, b: 10, size: 1 });
    }

    #[test]
    fn shared_positions_list_the_equal_ranges() {
        // [CLS] the poor are [SEP] vs [CLS] the rich are [SEP]
        let (a, b) = shared_positions(&[2, 10, 11, 12, 3], &[2, 10, 13, 12, 3]);
        assert_eq!((a, b), (vec![0, 1, 3, 4], vec![0, 1, 3, 4]));
        // An inserted token shifts the positions in b.
        let (a, b) = shared_positions(&[2, 10, 12, 3], &[2, 10, 14, 12, 3]);
        assert_eq!((a, b), (vec![0, 1, 2, 3], vec![0, 1, 3, 4]));
    }
}
