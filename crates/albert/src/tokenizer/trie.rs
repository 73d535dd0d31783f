//! A byte trie over vocabulary pieces, walked one byte at a time (sentencepiece's Darts
//! `traverse`). Nodes with many children (the root, `▁`, frequent prefixes) get a dense 256-slot
//! table; the rest keep a short sorted label list, so a step is an index or a tiny search.

use std::collections::BTreeMap;

/// Children above which a node gets a dense table.
const DENSE_MIN: usize = 16;
const NONE: u32 = u32::MAX;

/// A byte trie mapping keys to `u32` values.
#[derive(Clone, Debug, Default)]
pub struct ByteTrie {
    /// Per node: `(first child index into labels/targets, child count, value or NONE, dense table
    /// index or NONE)`.
    nodes: Vec<(u32, u32, u32, u32)>,
    labels: Vec<u8>,
    targets: Vec<u32>,
    /// Dense child tables, 256 entries each (`NONE` for no child).
    dense: Vec<u32>,
}

impl ByteTrie {
    /// Builds the trie; later duplicates of a key are ignored.
    pub fn new<'a>(entries: impl IntoIterator<Item = (&'a [u8], u32)>) -> Self {
        #[derive(Default)]
        struct Node {
            children: BTreeMap<u8, usize>,
            value: Option<u32>,
        }
        let mut tmp = vec![Node::default()];
        for (key, value) in entries {
            let mut n = 0;
            for &b in key {
                n = match tmp[n].children.get(&b) {
                    Some(&c) => c,
                    None => {
                        tmp.push(Node::default());
                        let c = tmp.len() - 1;
                        tmp[n].children.insert(b, c);
                        c
                    }
                };
            }
            tmp[n].value.get_or_insert(value);
        }
        let mut trie = ByteTrie::default();
        for node in &tmp {
            let mut dense = NONE;
            if node.children.len() > DENSE_MIN {
                dense = (trie.dense.len() / 256) as u32;
                trie.dense.resize(trie.dense.len() + 256, NONE);
                for (&b, &c) in &node.children {
                    trie.dense[dense as usize * 256 + b as usize] = c as u32;
                }
            }
            let value = node.value.unwrap_or(NONE);
            trie.nodes.push((
                trie.labels.len() as u32,
                node.children.len() as u32,
                value,
                dense,
            ));
            for (&b, &c) in &node.children {
                trie.labels.push(b);
                trie.targets.push(c as u32);
            }
        }
        trie
    }

    /// The root node.
    pub const ROOT: u32 = 0;

    /// Follows byte `b` from `node`; `None` when no key continues that way.
    #[inline]
    pub fn step(&self, node: u32, b: u8) -> Option<u32> {
        let (first, n, _, dense) = self.nodes[node as usize];
        if dense != NONE {
            let c = self.dense[dense as usize * 256 + b as usize];
            return (c != NONE).then_some(c);
        }
        let (first, n) = (first as usize, n as usize);
        let i = self.labels[first..first + n].iter().position(|&l| l == b)?;
        Some(self.targets[first + i])
    }

    /// The value stored at `node`, if a key ends there.
    #[inline]
    pub fn value(&self, node: u32) -> Option<u32> {
        let v = self.nodes[node as usize].2;
        (v != NONE).then_some(v)
    }

    /// Exact lookup.
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        let mut n = Self::ROOT;
        for &b in key {
            n = self.step(n, b)?;
        }
        self.value(n)
    }

    /// Length in bytes of the longest key that is a prefix of `input`, with its value.
    pub fn longest_prefix(&self, input: &[u8]) -> Option<(usize, u32)> {
        let mut n = Self::ROOT;
        let mut best = None;
        for (i, &b) in input.iter().enumerate() {
            match self.step(n, b) {
                Some(c) => n = c,
                None => break,
            }
            if let Some(v) = self.value(n) {
                best = Some((i + 1, v));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::ByteTrie;

    #[test]
    fn lookups() {
        let keys: [&[u8]; 5] = [b"a", b"ab", b"abc", b"b", b"\xe2\x96\x81"];
        let t = ByteTrie::new(keys.iter().enumerate().map(|(i, k)| (*k, i as u32)));
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.get(k), Some(i as u32));
        }
        assert_eq!(t.get(b""), None);
        assert_eq!(t.get(b"abd"), None);
        assert_eq!(t.get(b"c"), None);
        assert_eq!(t.longest_prefix(b"abz"), Some((2, 1)));
        assert_eq!(t.longest_prefix(b"zz"), None);
        assert_eq!(ByteTrie::new(std::iter::empty()).get(b"a"), None);
    }
}
