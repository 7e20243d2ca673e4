//! [`OnDiskSequences`]: one sequence per sample (classification or regression, from a long or
//! wide CSV file), read from an on-disk file as they are asked for.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};
use burn_rnn_io::Crc32;

use super::convert::is_current;
use super::convert_sequences::convert_sequences;
use super::format::{
    FileKind, Header, Index, SequenceLayout, corrupt, io_error, open_checked, read_exact_at,
};
use crate::csv::{CHUNK_ROWS, DataSpec};
use crate::dataset::{SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};
use crate::normalize::Normalizer;
use crate::source::{Normalized, SequenceSource};
use crate::split::{SplitFractions, random_indices};

/// An open sequences file: its handle and index, shared by every selection of its sequences.
#[derive(Debug)]
struct SequenceFile {
    path: PathBuf,
    file: File,
    header: Header,
    index: Index,
    layout: SequenceLayout,
    /// The class index of each label code in the records.
    class_of_code: Vec<usize>,
}

/// The sequences of a classification or regression CSV file (long or wide), kept on disk:
/// converted once ([`OnDiskSequences::convert`]) into a binary file of each sequence's steps
/// and target, then read one sequence at a time, with one positioned read, and padded to `T`
/// steps with its length kept (for the masks), as the in-memory reader pads it. Memory holds
/// the index (an id and two numbers per sequence) and the selection (one number per sequence),
/// never the values.
///
/// The samples are exactly, bit for bit, those of [`DataSpec::read`] on the same file, in the
/// same order, with the same class names (kept in the file, so a test file converted with a
/// model's classes maps its labels onto them); [`OnDiskSequences::random_split`] selects the
/// same samples as [`crate::SpecData::split`]. Implements burn's [`Dataset`] and
/// [`SequenceSource`].
///
/// ```
/// use burn::data::dataset::Dataset;
/// use burn_rnn_data::{DataHints, OnDiskSequences, inspect_csv};
///
/// let dir = tempfile::tempdir()?;
/// let csv = dir.path().join("vitals.csv");
/// let mut text = String::from("id,time,hr,label\n");
/// for p in 0..10 {
///     for t in 0..2 + p % 3 {
///         text += &format!("p{p},{t},{},{}\n", 70 + t, if p % 2 == 0 { "sick" } else { "well" });
///     }
/// }
/// std::fs::write(&csv, text)?;
/// let spec = inspect_csv(&csv, &DataHints::default())?.spec;
///
/// let data = OnDiskSequences::convert(&csv, &spec, None, &dir.path().join("vitals.sequences"))?;
/// let in_memory = spec.read(&csv, None)?;
/// assert_eq!(data.len(), 10);
/// assert_eq!(data.get(4)?, in_memory.dataset.samples()[4]);
/// let (train, valid) = data.random_split(0.2, 42)?;
/// let (memory_train, _) = in_memory.split(0.2, 42)?;
/// assert_eq!((train.len(), valid.len()), (8, 2));
/// assert_eq!(train.get(0)?, memory_train.samples()[0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OnDiskSequences {
    file: Arc<SequenceFile>,
    /// The entries selected, in order.
    selection: Arc<[usize]>,
}

impl OnDiskSequences {
    /// Converts the classification or regression file `csv`, read with `spec`, into the
    /// on-disk file `out`, and opens it. With `classes` (a model's class names), labels are
    /// mapped onto them and an unseen label is an error naming its line; otherwise the classes
    /// are the file's labels, sorted as [`DataSpec::read`] sorts them. Reads the CSV once,
    /// holding a chunk of rows at a time: a long file's ids must each have their rows together
    /// (sorted by id; any order within), a wide file's rows may come in any order.
    pub fn convert(
        csv: &Path,
        spec: &DataSpec,
        classes: Option<&[String]>,
        out: &Path,
    ) -> Result<Self> {
        convert_sequences(csv, spec, classes, out, CHUNK_ROWS)?;
        Self::open(out)
    }

    /// Opens `out` when it was converted from `csv` as it is now (same length and modification
    /// time) with the same spec and classes; converts it again otherwise. Returns whether it
    /// converted.
    pub fn open_or_convert(
        csv: &Path,
        spec: &DataSpec,
        classes: Option<&[String]>,
        out: &Path,
    ) -> Result<(Self, bool)> {
        if let Ok(data) = Self::open(out) {
            let layout = &data.file.layout;
            let same_classes = match classes {
                Some(classes) => layout.given_classes && layout.target_names == classes,
                None => !layout.given_classes,
            };
            if same_classes && is_current(&data.file.index, csv, spec)? {
                return Ok((data, false));
            }
        }
        Ok((Self::convert(csv, spec, classes, out)?, true))
    }

    /// Opens a sequences file, checking its header, index and extents (see the format's module
    /// docs); selects all of its sequences.
    pub fn open(path: &Path) -> Result<Self> {
        let (file, header, index) = open_checked(path, FileKind::Sequences)?;
        let layout = index
            .sequences
            .clone()
            .ok_or_else(|| corrupt(path, "no sequence layout".into()))?;
        let class_of_code = layout
            .class_of_code()
            .ok_or_else(|| corrupt(path, "its class labels are not the classes".into()))?;
        if index.entries.is_empty() {
            return Err(DataError::Empty(format!(
                "{}: the file holds no sequence",
                path.display()
            )));
        }
        let selection = (0..index.entries.len()).collect();
        Ok(Self {
            file: Arc::new(SequenceFile {
                path: path.to_path_buf(),
                file,
                header,
                index,
                layout,
                class_of_code,
            }),
            selection,
        })
    }

    /// The file the sequences are read from.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The spec the file was converted with.
    pub fn spec(&self) -> &DataSpec {
        &self.file.index.spec
    }

    /// The number of sequences selected.
    pub fn len(&self) -> usize {
        self.selection.len()
    }

    /// Whether no sequence is selected.
    pub fn is_empty(&self) -> bool {
        self.selection.is_empty()
    }

    /// Splits off `valid_fraction` of the sequences at random (seeded), exactly as
    /// [`crate::SpecData::split`] does: `(train, valid)`.
    pub fn random_split(&self, valid_fraction: f64, seed: u64) -> Result<(Self, Self)> {
        if !(valid_fraction > 0.0 && valid_fraction < 1.0) {
            return Err(DataError::InvalidParameter(format!(
                "the validation fraction must be in (0, 1), got {valid_fraction}"
            )));
        }
        let fractions = SplitFractions::train_valid(1.0 - valid_fraction);
        let split = random_indices(self.len(), fractions, seed)?;
        Ok((self.subset(&split.train), self.subset(&split.valid)))
    }

    /// The sequences at `indices` of this selection, in that order (indices checked by the
    /// caller).
    fn subset(&self, indices: &[usize]) -> Self {
        Self {
            file: self.file.clone(),
            selection: indices.iter().map(|&i| self.selection[i]).collect(),
        }
    }

    /// Sequence `index` of the selection, read with one positioned read and padded to T steps.
    fn read_sequence(&self, index: usize) -> Result<SequenceSample> {
        let &entry_index = self.selection.get(index).ok_or_else(|| {
            DataError::InvalidParameter(format!(
                "sequence index {index} is out of range for {} sequences",
                self.len()
            ))
        })?;
        let f = &*self.file;
        let entry = &f.index.entries[entry_index];
        let (d, t) = (f.index.inputs.len(), f.layout.num_steps);
        let steps = entry.rows as usize;
        let target_bytes = f.layout.target_bytes() as usize;
        let mut bytes = vec![0u8; target_bytes + steps * d * 4];
        read_exact_at(&f.file, &mut bytes, entry.offset)
            .map_err(|e| io_error(&f.path, "read", e))?;
        let (target_bytes, value_bytes) = bytes.split_at(target_bytes);
        let damaged = |what: String| {
            corrupt(
                &f.path,
                format!("{what} in sequence `{}` (damaged?)", entry.id),
            )
        };
        let target = match f.layout.target_kind {
            TargetKind::Classification { .. } => {
                let code = u32::from_le_bytes(four(target_bytes));
                let class = f.class_of_code.get(code as usize).copied();
                Target::Class(class.ok_or_else(|| damaged(format!("class code {code}")))?)
            }
            _ => Target::Regression(finite(floats(target_bytes), |v, k| {
                damaged(format!("non-finite target {v} (output {k})"))
            })?),
        };
        let mut values = finite(floats(value_bytes), |v, at| {
            damaged(format!(
                "non-finite value {v} at step {}, feature {}",
                at / d,
                at % d
            ))
        })?;
        values.resize(t * d, 0.0);
        Ok(SequenceSample {
            id: entry.id.clone(),
            values,
            length: steps,
            target,
        })
    }
}

/// Little-endian `f32`s.
fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(four(b)))
        .collect()
}

/// The first four bytes of `bytes` (zeros if it is shorter, which a checked file never is).
fn four(bytes: &[u8]) -> [u8; 4] {
    bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; 4])
}

/// `values` when all are finite; otherwise `error(value, position)` of the first that is not.
fn finite(values: Vec<f32>, error: impl Fn(f32, usize) -> DataError) -> Result<Vec<f32>> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(at) => Err(error(values[at], at)),
        None => Ok(values),
    }
}

impl SequenceSource for OnDiskSequences {
    fn num_samples(&self) -> usize {
        self.len()
    }

    fn sample(&self, index: usize) -> Result<SequenceSample> {
        self.read_sequence(index)
    }

    fn num_steps(&self) -> usize {
        self.file.layout.num_steps
    }

    fn num_features(&self) -> usize {
        self.file.index.inputs.len()
    }

    fn target_kind(&self) -> TargetKind {
        self.file.layout.target_kind
    }

    fn feature_names(&self) -> &[String] {
        &self.file.index.inputs
    }

    fn target_names(&self) -> &[String] {
        &self.file.layout.target_names
    }

    fn reads_lazily(&self) -> bool {
        true
    }

    fn fingerprint(&self, crc: &mut Crc32) {
        let header = &self.file.header;
        crc.update(&header.rows_crc.to_le_bytes());
        crc.update(&header.index_crc.to_le_bytes());
        for &entry in self.selection.iter() {
            crc.update(&(entry as u64).to_le_bytes());
        }
    }

    fn normalized(&self, normalizer: &Normalizer) -> Result<Arc<dyn SequenceSource>> {
        Ok(Arc::new(Normalized::new(
            Arc::new(self.clone()),
            normalizer.clone(),
        )?))
    }
}

impl Dataset<SequenceSample> for OnDiskSequences {
    fn get(&self, index: usize) -> std::result::Result<SequenceSample, DatasetError> {
        self.read_sequence(index).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        OnDiskSequences::len(self)
    }
}
