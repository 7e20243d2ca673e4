//! How a scan's work is cut into chunks for the threads of a team (`team.rs`): the rows of a
//! step are independent, so a chunk is either whole sequences run through every step (no
//! thread waits for another between steps) or, for batches too small for that, each step's
//! hidden units (a wait at the end of every phase). The forward and backward passes share it.

use std::ops::Range;

use super::norm;
use super::packed::StepWeights;
use super::steps::Shape;
use super::team;

/// How a scan's work is cut into chunks for the threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// Every step cut by hidden units (whole panels): each chunk reads the whole previous
    /// state, so a step starts once the previous one is complete.
    Units,
    /// The batch cut into chunks of this many sequences, each chunk running its sequences
    /// through the whole scan: nothing waits between steps.
    Rows(usize),
}

/// What one chunk computes at each step: its sequences' hidden units `units` (their columns
/// of every gate), and the state's `columns` of the same sequences (a projection, the
/// backward pass's products with `W_hh`); under layer norm, whole rows of `whole_rows`.
#[derive(Clone, Debug)]
pub(crate) struct Part {
    pub rows: Range<usize>,
    pub units: Range<usize>,
    pub columns: Range<usize>,
    pub whole_rows: Range<usize>,
}

impl Split {
    /// Sequences per chunk of the row split: two chunks per thread or more (whoever is done
    /// first takes the next), at least one kernel tile of rows (8), at most 64.
    const MIN_ROWS: usize = 8;
    const MAX_ROWS: usize = 64;

    /// The split of a scan and how many threads run it (a team where each step is worth it);
    /// `forced` in place of the choice. By sequences where the batch gives two chunks per
    /// thread, else by hidden units. (Scans whose steps are too small for a team stay on one
    /// thread even split by sequences: waking a second thread cost more than it saved on
    /// `healthcare`, LSTM inference 232,000 → 118,000 seq/s.)
    pub fn choose(shape: &Shape, gates: usize, forced: Option<Split>) -> (Split, usize) {
        let threads = shape.team_size(gates);
        let split = forced.unwrap_or_else(|| {
            let rows = (shape.batch / (2 * threads)).clamp(Self::MIN_ROWS, Self::MAX_ROWS);
            let rows = rows.next_multiple_of(Self::MIN_ROWS);
            match threads > 1 && shape.batch.div_ceil(rows) >= 2 * threads {
                true => Split::Rows(rows),
                false => Split::Units,
            }
        });
        (split, threads)
    }

    /// Runs `job(i, phase, chunk)` for the `i`-th step visited, each of its `phases` and every
    /// chunk, on `threads` threads: phase by phase under a unit split (every chunk of a phase
    /// before any of the next), each chunk through all of them under a row split.
    pub fn run(
        self,
        (threads, chunks): (usize, usize),
        steps: usize,
        phases: usize,
        job: impl Fn(usize, usize, usize) + Sync,
    ) {
        match self {
            Split::Units => team::run(threads, steps * phases, chunks, |phase, chunk| {
                job(phase / phases, phase % phases, chunk)
            }),
            Split::Rows(_) => team::run(threads, 1, chunks, |_, chunk| {
                for i in 0..steps {
                    for phase in 0..phases {
                        job(i, phase, chunk)
                    }
                }
            }),
        }
    }

    /// How many chunks the scan is cut into.
    pub fn chunks(self, shape: &Shape, threads: usize) -> usize {
        match self {
            Split::Units => threads,
            Split::Rows(rows) => shape.batch.div_ceil(rows),
        }
    }

    /// Chunk `chunk`'s part of every step.
    pub fn part(self, shape: &Shape, chunk: usize, chunks: usize) -> Part {
        match self {
            Split::Units => Part {
                rows: 0..shape.batch,
                units: StepWeights::columns(shape.hidden, chunk, chunks),
                columns: StepWeights::columns(shape.state, chunk, chunks),
                whole_rows: norm::rows_of(shape.batch, chunk, chunks),
            },
            Split::Rows(rows) => {
                let rows = chunk * rows..((chunk + 1) * rows).min(shape.batch);
                Part {
                    rows: rows.clone(),
                    units: 0..shape.hidden,
                    columns: 0..shape.state,
                    whole_rows: rows,
                }
            }
        }
    }
}
