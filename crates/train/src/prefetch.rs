//! Reading the next batches' samples on a thread of their own while the current batch trains,
//! for sources that read their samples from disk ([`SequenceSource::reads_lazily`]): the reads
//! and the scaling then overlap the training step instead of adding to it.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use burn_rnn_data::{DataError, SequenceSample, SequenceSource};

/// Batches read ahead of the one training.
const AHEAD: usize = 4;

/// The samples of an epoch's batches, read in order by a background thread.
pub(crate) struct Prefetch {
    receiver: Receiver<Result<Vec<SequenceSample>, DataError>>,
}

impl Prefetch {
    /// Starts reading `order` (sample indices of `source`) in batches of `batch_size`. The
    /// thread stops after the last batch, after an error (sent as the last item), or when the
    /// `Prefetch` is dropped (the pass abandoned).
    pub(crate) fn start(
        source: Arc<dyn SequenceSource>,
        order: Vec<usize>,
        batch_size: usize,
    ) -> Self {
        let (sender, receiver) = sync_channel(AHEAD);
        std::thread::spawn(move || {
            for chunk in order.chunks(batch_size.max(1)) {
                let items: Result<Vec<_>, _> = chunk.iter().map(|&i| source.sample(i)).collect();
                let failed = items.is_err();
                if sender.send(items).is_err() || failed {
                    return;
                }
            }
        });
        Self { receiver }
    }

    /// The next batch's samples; `None` after the last.
    pub(crate) fn next(&self) -> Option<Result<Vec<SequenceSample>, DataError>> {
        self.receiver.recv().ok()
    }
}
