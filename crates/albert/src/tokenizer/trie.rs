//! A byte trie over vocabulary pieces, walked one byte at a time like sentencepiece's
//! double array (`traverse`), so common-prefix search costs one step per input byte.

use std::collections::BTreeMap;

/// A flattened byte trie mapping keys to `u32` values.
#[derive(Clone, Debug, Default)]
pub struct ByteTrie {
    /// Per node: `(first child index into labels/targets, child count, value or u32::MAX)`.
    nodes: Vec<(u32, u32, u32)>,
    labels: Vec<u8>,
    targets: Vec<u32>,
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
            trie.nodes.push((
                trie.labels.len() as u32,
                node.children.len() as u32,
                node.value.unwrap_or(u32::MAX),
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
        let (first, n, _) = self.nodes[node as usize];
        let labels = &self.labels[first as usize..(first + n) as usize];
        labels
            .binary_search(&b)
            .ok()
            .map(|i| self.targets[first as usize + i])
    }

    /// The value stored at `node`, if a key ends there.
    #[inline]
    pub fn value(&self, node: u32) -> Option<u32> {
        let v = self.nodes[node as usize].2;
        (v != u32::MAX).then_some(v)
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
