#![no_main]
//! `burn_rnn_train::fuzzing::wide_csv` on arbitrary bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = burn_rnn_train::fuzzing::wide_csv(data);
});
