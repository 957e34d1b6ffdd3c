//! The in-process vector index: an exact scan over one contiguous `Vec<f32>`.
//!
//! At maestro's scale (up to a few hundred thousand memories per user) an exact scan beats the
//! approximate indexes we measured: cozo's HNSW inserted at 46–80 rows/s with recall@10 0.16–0.55,
//! `hnsw_rs` took minutes to build 100k with recall@10 ≤ 0.27, while this scan answers k = 10 over
//! 100k × 384 in a few milliseconds with recall 1.0. Rows carry small metadata so filters (workspace,
//! kind, agent, time) apply during the scan. The store keeps every vector as the record of truth;
//! this index is rebuilt from it at daemon start and updated on every insert and delete.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// What a filter can look at, per vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// Interned workspace id (see [`VectorIndex::intern`]).
    pub ws: u32,
    /// Interned kind.
    pub kind: u32,
    /// Interned agent name ("" interned too).
    pub agent: u32,
    /// Unix seconds.
    pub at: f64,
}

/// One hit: the id given at insert and the cosine similarity (dot product of unit vectors).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
}

#[derive(Debug, Default)]
pub struct VectorIndex {
    dim: usize,
    data: Vec<f32>,
    ids: Vec<String>,
    metas: Vec<Meta>,
    slot_of: HashMap<String, usize>,
    names: Vec<String>,
    name_ids: HashMap<String, u32>,
}

impl VectorIndex {
    pub fn new(dim: usize) -> VectorIndex {
        VectorIndex {
            dim,
            ..VectorIndex::default()
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Reserves room for `n` more vectors (a load from the store knows its count).
    pub fn reserve(&mut self, n: usize) {
        self.data.reserve(n * self.dim);
        self.ids.reserve(n);
        self.metas.reserve(n);
        self.slot_of.reserve(n);
    }

    /// A small integer for a workspace, kind or agent name, stable for this index's life.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.name_ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.name_ids.insert(name.to_owned(), id);
        id
    }

    /// The interned id of `name`, when it was ever interned (a filter on an unknown name matches
    /// nothing).
    pub fn lookup(&self, name: &str) -> Option<u32> {
        self.name_ids.get(name).copied()
    }

    /// Adds or replaces the vector of `id`. Panics when `vector` has the wrong dimension: callers
    /// check dimensions where they can say what was wrong.
    pub fn insert(&mut self, id: &str, meta: Meta, vector: &[f32]) {
        assert_eq!(vector.len(), self.dim, "vector dimension");
        match self.slot_of.get(id) {
            Some(&slot) => {
                self.data[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(vector);
                self.metas[slot] = meta;
            }
            None => {
                self.slot_of.insert(id.to_owned(), self.ids.len());
                self.ids.push(id.to_owned());
                self.metas.push(meta);
                self.data.extend_from_slice(vector);
            }
        }
    }

    /// Updates the metadata of `id` (a merged duplicate's new time); false when absent.
    pub fn touch(&mut self, id: &str, at: f64) -> bool {
        match self.slot_of.get(id) {
            Some(&slot) => {
                self.metas[slot].at = at;
                true
            }
            None => false,
        }
    }

    /// Removes `id` (the last vector moves into its slot); false when absent.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.slot_of.remove(id) else {
            return false;
        };
        let last = self.ids.len() - 1;
        if slot != last {
            let (dim, moved) = (self.dim, self.ids[last].clone());
            self.data
                .copy_within(last * dim..(last + 1) * dim, slot * dim);
            self.ids.swap(slot, last);
            self.metas.swap(slot, last);
            self.slot_of.insert(moved, slot);
        }
        self.ids.pop();
        self.metas.pop();
        self.data.truncate(last * self.dim);
        true
    }

    pub fn contains(&self, id: &str) -> bool {
        self.slot_of.contains_key(id)
    }

    /// The stored vector of `id`.
    pub fn vector(&self, id: &str) -> Option<&[f32]> {
        let slot = *self.slot_of.get(id)?;
        Some(&self.data[slot * self.dim..(slot + 1) * self.dim])
    }

    /// The `k` vectors most similar to `query` among those `keep` accepts, best first. With more than
    /// `PARALLEL_FROM` vectors the scan is split over two threads.
    pub fn search(&self, query: &[f32], k: usize, keep: impl Fn(&Meta) -> bool + Sync) -> Vec<Hit> {
        if k == 0 || query.len() != self.dim || self.ids.is_empty() {
            return Vec::new();
        }
        let n = self.ids.len();
        let threads = if n >= PARALLEL_FROM {
            std::thread::available_parallelism().map_or(1, |c| c.get().min(4))
        } else {
            1
        };
        let top = if threads <= 1 {
            self.scan(query, k, 0..n, &keep)
        } else {
            let per = n.div_ceil(threads);
            let parts: Vec<Vec<Scored>> = std::thread::scope(|s| {
                let keep = &keep;
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let range = t * per..((t + 1) * per).min(n);
                        s.spawn(move || self.scan(query, k, range, keep))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("scan thread"))
                    .collect()
            });
            let mut all: Vec<Scored> = parts.into_iter().flatten().collect();
            all.sort_by(|a, b| b.cmp(a));
            all.truncate(k);
            all
        };
        top.into_iter()
            .map(|s| Hit {
                id: self.ids[s.slot].clone(),
                score: s.score,
            })
            .collect()
    }

    /// Best `k` of the slots in `range`, best first.
    fn scan(
        &self,
        query: &[f32],
        k: usize,
        range: std::ops::Range<usize>,
        keep: &(impl Fn(&Meta) -> bool + Sync),
    ) -> Vec<Scored> {
        // A min-heap of the best k so far (Reverse order through Scored's Ord).
        let mut heap: BinaryHeap<std::cmp::Reverse<Scored>> = BinaryHeap::with_capacity(k + 1);
        for slot in range {
            if !keep(&self.metas[slot]) {
                continue;
            }
            let v = &self.data[slot * self.dim..(slot + 1) * self.dim];
            let score = dot(query, v);
            if heap.len() < k {
                heap.push(std::cmp::Reverse(Scored { score, slot }));
            } else if heap.peek().is_some_and(|w| score > w.0.score) {
                heap.pop();
                heap.push(std::cmp::Reverse(Scored { score, slot }));
            }
        }
        let mut out: Vec<Scored> = heap.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }
}

/// From this many vectors on, a search splits its scan over threads.
const PARALLEL_FROM: usize = 32_768;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored {
    score: f32,
    slot: usize,
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    /// By score (NaN lowest), then by the lower slot (older rows win ties).
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.slot.cmp(&self.slot))
    }
}

/// The dot product with eight independent accumulators, which the compiler keeps in vector registers.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ar.iter().zip(br) {
        sum += x * y;
    }
    sum
}

/// Vectors as stored in the store: little-endian f32s.
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`to_bytes`]; `None` when the length is not a multiple of four.
pub fn from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2000) as f32 / 1000.0 - 1.0
            })
            .collect();
        crate::normalize(&mut v);
        v
    }

    fn meta(ws: u32) -> Meta {
        Meta {
            ws,
            kind: 0,
            agent: 0,
            at: 0.0,
        }
    }

    #[test]
    fn search_is_exact_and_filters_apply() {
        let dim = 37; // not a multiple of 8: the remainder path counts
        let mut index = VectorIndex::new(dim);
        let vectors: Vec<Vec<f32>> = (0..500).map(|i| unit(i, dim)).collect();
        for (i, v) in vectors.iter().enumerate() {
            index.insert(&format!("m{i}"), meta((i % 3) as u32), v);
        }
        let q = unit(10_000, dim);
        let mut want: Vec<(f32, usize)> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>(), i))
            .collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0));
        let hits = index.search(&q, 10, |_| true);
        let got: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let expected: Vec<String> = want[..10].iter().map(|(_, i)| format!("m{i}")).collect();
        assert_eq!(got, expected);
        let only_ws1 = index.search(&q, 5, |m| m.ws == 1);
        assert_eq!(only_ws1.len(), 5);
        assert!(
            only_ws1
                .iter()
                .all(|h| h.id[1..].parse::<usize>().unwrap() % 3 == 1)
        );
    }

    #[test]
    fn remove_and_replace_keep_the_index_consistent() {
        let dim = 8;
        let mut index = VectorIndex::new(dim);
        for i in 0..10 {
            index.insert(&format!("m{i}"), meta(0), &unit(i, dim));
        }
        assert!(index.remove("m3"));
        assert!(!index.remove("m3"));
        assert!(index.remove("m9")); // the last one
        assert_eq!(index.len(), 8);
        for i in [0, 1, 2, 4, 5, 6, 7, 8] {
            assert_eq!(
                index.vector(&format!("m{i}")).unwrap(),
                unit(i, dim).as_slice()
            );
        }
        index.insert("m0", meta(0), &unit(99, dim));
        assert_eq!(index.len(), 8);
        let hit = &index.search(&unit(99, dim), 1, |_| true)[0];
        assert_eq!(hit.id, "m0");
        assert!((hit.score - 1.0).abs() < 1e-5);
    }

    #[test]
    fn the_parallel_scan_agrees_with_the_single_one() {
        let dim = 16;
        let mut index = VectorIndex::new(dim);
        for i in 0..(PARALLEL_FROM as u64 + 100) {
            index.insert(&format!("m{i}"), meta(0), &unit(i, dim));
        }
        let q = unit(1 << 40, dim);
        let parallel = index.search(&q, 10, |_| true);
        let single = index.scan(&q, 10, 0..index.len(), &|_: &Meta| true);
        let single: Vec<String> = single.iter().map(|s| index.ids[s.slot].clone()).collect();
        assert_eq!(
            parallel.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
            single
        );
    }

    #[test]
    fn bytes_round_trip() {
        let v = unit(5, 384);
        assert_eq!(from_bytes(&to_bytes(&v)).unwrap(), v);
        assert_eq!(from_bytes(&[1, 2, 3]), None);
    }
}
