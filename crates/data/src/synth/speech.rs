//! Spoken words recorded on this machine: Debian's `espeak-ng` speech synthesiser says each word
//! with several accents, speakers (voice variants), speeds and pitches into WAV files, and
//! [`speech_dataset`] turns the recordings into log-mel sequences of their own lengths (padded to
//! the longest, lengths kept) labelled with the word. No data is downloaded; without
//! `espeak-ng` [`SpeechConfig::record`] says how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::audio::{LogMel, read_wav};
use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};
use crate::pad::{Truncation, pad_steps};

/// The ten digits, the words of the speech example.
pub const DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// Which recordings to make: every combination of word, accent, speaker, speed and pitch.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechConfig {
    /// The words (the classes, in this order).
    pub words: Vec<String>,
    /// espeak-ng voices (`en-us`, `en-gb`, `en-gb-scotland`, ...).
    pub accents: Vec<String>,
    /// espeak-ng voice variants, the "speakers" (`m1`..`m7`, `f1`..`f5`, ...).
    pub speakers: Vec<String>,
    /// Speaking rates, words per minute (espeak-ng's `-s`, 80–450).
    pub speeds: Vec<u32>,
    /// Pitches (espeak-ng's `-p`, 0–99).
    pub pitches: Vec<u32>,
}

/// One recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// The word said (its index in [`SpeechConfig::words`]).
    pub word: usize,
    /// The accent.
    pub accent: String,
    /// The speaker (voice variant).
    pub speaker: String,
    /// Words per minute.
    pub speed: u32,
    /// Pitch.
    pub pitch: u32,
    /// The WAV file.
    pub path: PathBuf,
}

impl Utterance {
    /// A unique id: `seven-en-us-m3-160-50`.
    pub fn id(&self, words: &[String]) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            words[self.word], self.accent, self.speaker, self.speed, self.pitch
        )
    }
}

/// Whether `espeak-ng` can be run here.
pub fn espeak_available() -> bool {
    Command::new("espeak-ng")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The error when `espeak-ng` is missing.
fn missing_espeak(error: std::io::Error) -> DataError {
    DataError::Io {
        path: PathBuf::from("espeak-ng"),
        message: format!(
            "cannot run the speech synthesiser ({error}); install it (Debian/Ubuntu: apt-get install espeak-ng)"
        ),
    }
}

impl SpeechConfig {
    /// Every recording of this config, before any is made.
    pub fn utterances(&self, dir: &Path) -> Vec<Utterance> {
        let mut all = Vec::new();
        for word in 0..self.words.len() {
            for accent in &self.accents {
                for speaker in &self.speakers {
                    for &speed in &self.speeds {
                        for &pitch in &self.pitches {
                            let mut u = Utterance {
                                word,
                                accent: accent.clone(),
                                speaker: speaker.clone(),
                                speed,
                                pitch,
                                path: PathBuf::new(),
                            };
                            u.path = dir.join(format!("{}.wav", u.id(&self.words)));
                            all.push(u);
                        }
                    }
                }
            }
        }
        all
    }

    /// Records every utterance into `dir` (created; existing recordings are kept), eight
    /// `espeak-ng` processes at a time. Errors: `espeak-ng` missing or failing (naming the
    /// voice), or an empty config.
    pub fn record(&self, dir: &Path) -> Result<Vec<Utterance>> {
        let utterances = self.utterances(dir);
        if utterances.is_empty() {
            return Err(DataError::Empty(
                "the speech config lists no word, accent, speaker, speed or pitch".into(),
            ));
        }
        check_accents(&self.accents)?;
        std::fs::create_dir_all(dir).map_err(|e| DataError::Io {
            path: dir.to_path_buf(),
            message: format!("cannot create: {e}"),
        })?;
        for batch in utterances.chunks(8) {
            let mut children = Vec::new();
            for u in batch.iter().filter(|u| !u.path.is_file()) {
                let child = Command::new("espeak-ng")
                    .args(["-v", &format!("{}+{}", u.accent, u.speaker)])
                    .args(["-s", &u.speed.to_string(), "-p", &u.pitch.to_string()])
                    .arg("-w")
                    .arg(&u.path)
                    .arg(&self.words[u.word])
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(missing_espeak)?;
                children.push((u, child));
            }
            for (u, child) in children {
                let output = child.wait_with_output().map_err(missing_espeak)?;
                if !output.status.success() || !u.path.is_file() {
                    return Err(DataError::Io {
                        path: u.path.clone(),
                        message: format!(
                            "espeak-ng failed for voice {}+{}: {}",
                            u.accent,
                            u.speaker,
                            String::from_utf8_lossy(&output.stderr).trim()
                        ),
                    });
                }
            }
        }
        Ok(utterances)
    }
}

/// An error naming the first of `accents` that `espeak-ng --voices` does not list (espeak-ng
/// itself falls back to its default voice without a word).
fn check_accents(accents: &[String]) -> Result<()> {
    let output = Command::new("espeak-ng")
        .arg("--voices")
        .output()
        .map_err(missing_espeak)?;
    let listing = String::from_utf8_lossy(&output.stdout);
    // Columns: Pty, Language, Age/Gender, VoiceName, File, Other languages.
    let known: Vec<&str> = listing
        .lines()
        .skip(1)
        .flat_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            [columns.get(1).copied(), columns.get(4).copied()]
        })
        .flatten()
        .collect();
    match accents.iter().find(|a| {
        !known
            .iter()
            .any(|k| k == a || k.rsplit('/').next() == Some(a))
    }) {
        Some(accent) => Err(DataError::InvalidParameter(format!(
            "espeak-ng has no voice `{accent}` (`espeak-ng --voices` lists them)"
        ))),
        None => Ok(()),
    }
}

/// The log-mel frames of each recording (see [`LogMel`]) as a classification dataset: one
/// sequence per utterance, padded with zeros to the longest (lengths kept), the word as its class,
/// features `mel_0, mel_1, ...`, classes named by `words`.
pub fn speech_dataset(
    utterances: &[Utterance],
    words: &[String],
    mel: &LogMel,
) -> Result<SequenceDataset> {
    let mut frames = Vec::with_capacity(utterances.len());
    for u in utterances {
        let audio = read_wav(&u.path)?;
        let f = mel.frames(&audio).map_err(|e| DataError::Io {
            path: u.path.clone(),
            message: e.to_string(),
        })?;
        frames.push(f);
    }
    let longest = frames.iter().map(Vec::len).max().unwrap_or(1);
    let samples = utterances
        .iter()
        .zip(frames)
        .map(|(u, f)| {
            let flat: Vec<f32> = f.into_iter().flatten().collect();
            let padded = pad_steps(&flat, mel.bands, longest, Truncation::Error, &u.id(words))?;
            Ok(SequenceSample {
                id: u.id(words),
                values: padded.values,
                length: padded.length,
                target: Target::Class(u.word),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let kind = TargetKind::Classification {
        classes: words.len(),
    };
    SequenceDataset::new(samples, longest, mel.bands, kind)?
        .with_feature_names((0..mel.bands).map(|b| format!("mel_{b}")).collect())?
        .with_target_names(words.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_reads_words_when_espeak_is_installed() {
        if !espeak_available() {
            eprintln!("skipped: espeak-ng is not installed (apt-get install espeak-ng)");
            return;
        }
        let config = SpeechConfig {
            words: vec!["one".into(), "seven".into()],
            accents: vec!["en-us".into()],
            speakers: vec!["m3".into(), "f2".into()],
            speeds: vec![160],
            pitches: vec![50],
        };
        let dir = tempfile::tempdir().unwrap();
        let utterances = config.record(dir.path()).unwrap();
        assert_eq!(utterances.len(), 4);
        let data = speech_dataset(&utterances, &config.words, &LogMel::default()).unwrap();
        assert_eq!((data.len(), data.num_features()), (4, 20));
        // "seven" (two syllables) lasts longer than "one".
        let lengths: Vec<usize> = data.samples().iter().map(|s| s.length).collect();
        assert!(
            lengths[2] > lengths[0] && (20..120).contains(&lengths[0]),
            "{lengths:?}"
        );
        let bad = SpeechConfig {
            accents: vec!["no-such-voice".into()],
            ..config
        };
        let err = bad.record(&dir.path().join("bad")).unwrap_err().to_string();
        assert!(err.contains("no-such-voice"), "{err}");
    }
}
