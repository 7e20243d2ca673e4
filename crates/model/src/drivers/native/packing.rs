//! How a scan gets its packed weights: packed for the scan, or, at inference, kept from an
//! earlier pass over the same weights. Packing costs a pass over the weight and fresh pages
//! for the copy, and a scan of few rows has little else to do: a streamed step
//! (`Recurrent::step`) of one sequence through an LSTM of 512 units spent 80 % of its time
//! packing (`StepWeights::block`, under `perf`).
//!
//! An entry keeps a clone of its weight's flex tensor. While it does, that memory is neither
//! freed (so no other tensor can take its address) nor written in place (flex copies shared
//! memory before writing to it), so the address and length of the weight's values identify
//! them. Entries whose weight nobody else holds any more (a dropped or updated model) are
//! dropped at the next look-up; beyond [`CAPACITY`] bytes, the least recently used go.

use std::sync::{Arc, Mutex};

use burn::backend::flex::FlexTensor;

use super::packed::StepWeights;
use super::simd::Isa;

/// A weight's values, with the flex tensor that owns them when the cache may key on them
/// (`None`: a copy made for this pass, or memory that is not a tensor's).
#[derive(Clone, Copy)]
pub(crate) struct Weight<'a> {
    pub values: &'a [f32],
    pub owner: Option<&'a FlexTensor>,
}

impl<'a> Weight<'a> {
    /// Values that no cache keys on.
    #[cfg(test)]
    pub fn plain(values: &'a [f32]) -> Self {
        Self {
            values,
            owner: None,
        }
    }
}

/// How one scan packs its weights: for its instruction set and precision, through the cache
/// or not.
#[derive(Clone, Copy)]
pub(crate) struct Packer {
    pub isa: Isa,
    /// bf16 pairs (`StepWeights::in_bf16`) rather than `f32` panels.
    pub bf16: bool,
    /// Through the cache (inference passes); else packed for this scan alone.
    pub cached: bool,
}

impl Packer {
    /// The `gates` blocks of `n` columns of the row-major `k×(gates·n)` weight `w`, packed.
    pub fn gates(&self, w: Weight<'_>, k: usize, gates: usize, n: usize) -> Arc<[StepWeights]> {
        let pack = || -> Arc<[StepWeights]> {
            let blocks = StepWeights::gates(w.values, k, gates, n, self.isa).into_iter();
            match self.bf16 {
                true => blocks.map(StepWeights::in_bf16).collect(),
                false => blocks.collect(),
            }
        };
        match (self.cached, w.owner) {
            (true, Some(owner)) => {
                let key = Key {
                    at: w.values.as_ptr() as usize,
                    len: w.values.len(),
                    k,
                    gates,
                    n,
                    isa: self.isa,
                    bf16: self.bf16,
                };
                cached(key, owner, pack)
            }
            _ => pack(),
        }
    }
}

/// Bytes of packed weights (and of the weights they keep alive) beyond which the least recently
/// used entries go.
const CAPACITY: usize = 256 << 20;

/// What identifies a packing: the weight's memory and how it is cut and packed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Key {
    at: usize,
    len: usize,
    k: usize,
    gates: usize,
    n: usize,
    isa: Isa,
    bf16: bool,
}

struct Entry {
    key: Key,
    /// Keeps the weight's memory alive and unwritten (see the module's documentation).
    owner: FlexTensor,
    packed: Arc<[StepWeights]>,
    bytes: usize,
}

/// Most recently used last.
static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn entries() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    // A panic elsewhere while holding the lock leaves whole entries: the list is still valid.
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The packing of `key`, from the cache or from `pack` (then kept, with `owner`).
fn cached(
    key: Key,
    owner: &FlexTensor,
    pack: impl FnOnce() -> Arc<[StepWeights]>,
) -> Arc<[StepWeights]> {
    {
        let mut entries = entries();
        // Nobody else holds these weights: their model is gone or was updated.
        entries.retain(|entry| !entry.owner.is_unique());
        if let Some(at) = entries.iter().position(|entry| entry.key == key) {
            let entry = entries.remove(at);
            let packed = entry.packed.clone();
            entries.push(entry);
            return packed;
        }
    }
    // Packed outside the lock: other scans look up meanwhile (two packing the same weight at
    // once keep one).
    let packed = pack();
    let bytes = packed.iter().map(StepWeights::bytes).sum::<usize>() + key.len * 4;
    let mut entries = entries();
    if !entries.iter().any(|entry| entry.key == key) {
        entries.push(Entry {
            key,
            owner: owner.clone(),
            packed: packed.clone(),
            bytes,
        });
    }
    // Least recently used first (a packing larger than the capacity is not kept either).
    let mut total: usize = entries.iter().map(|entry| entry.bytes).sum();
    while total > CAPACITY {
        total -= entries.remove(0).bytes;
    }
    packed
}

/// The number of entries and their bytes (for tests).
#[cfg(test)]
pub(crate) fn cache_size() -> (usize, usize) {
    let entries = entries();
    (entries.len(), entries.iter().map(|entry| entry.bytes).sum())
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::*;

    fn weight(values: Vec<f32>, k: usize) -> FlexTensor {
        let n = values.len() / k;
        FlexTensor::from_data(TensorData::new(values, [k, n]))
    }

    fn as_weight(tensor: &FlexTensor) -> Weight<'_> {
        Weight {
            values: tensor.as_slice::<f32>().unwrap(),
            owner: Some(tensor),
        }
    }

    const PACKER: fn() -> Packer = || Packer {
        isa: Isa::best(),
        bf16: false,
        cached: true,
    };

    /// An inference pass takes the packing of the pass before over the same weight; another
    /// cut of it, a training pass or a weight with no owner are packed afresh.
    #[test]
    fn the_same_weight_is_packed_once() {
        let w = weight((0..24).map(|v| v as f32).collect(), 3);
        let first = PACKER().gates(as_weight(&w), 3, 2, 4);
        assert!(Arc::ptr_eq(&first, &PACKER().gates(as_weight(&w), 3, 2, 4)));
        assert!(!Arc::ptr_eq(
            &first,
            &PACKER().gates(as_weight(&w), 3, 1, 8)
        ));
        let training = Packer {
            cached: false,
            ..PACKER()
        };
        assert!(!Arc::ptr_eq(
            &first,
            &training.gates(as_weight(&w), 3, 2, 4)
        ));
        let plain = Weight::plain(as_weight(&w).values);
        assert!(!Arc::ptr_eq(&first, &PACKER().gates(plain, 3, 2, 4)));
    }

    /// Once nobody but the cache holds a weight, the next look-up drops its packing, and a
    /// new weight (wherever it lives) gets its own.
    #[test]
    fn a_dropped_weight_leaves_the_cache() {
        let w = weight(vec![1.0; 32], 4);
        let packed = PACKER().gates(as_weight(&w), 4, 1, 8);
        assert_eq!(Arc::strong_count(&packed), 2, "kept by the cache");
        drop(w);
        let other = weight(vec![2.0; 32], 4);
        let fresh = PACKER().gates(as_weight(&other), 4, 1, 8);
        assert_eq!(Arc::strong_count(&packed), 1, "dropped from the cache");
        assert!(!Arc::ptr_eq(&packed, &fresh));
        let (entries, bytes) = cache_size();
        assert!(entries >= 1 && bytes <= CAPACITY);
    }
}
