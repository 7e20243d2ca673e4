//! Audio to sequences: 16-bit PCM WAV files read into samples, and log-mel frames (the
//! spectrum's energy in bands spaced as the ear hears pitch, on a log scale) computed with a
//! radix-2 FFT, one frame of `bands` values per hop: the `[steps][D]` input of a recurrent
//! network for spoken words.

use std::f32::consts::PI;
use std::path::Path;

use crate::error::{DataError, Result};

/// A mono recording: samples in [-1, 1] and their rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples per second.
    pub sample_rate: u32,
    /// The samples; a stereo file's channels are averaged.
    pub samples: Vec<f32>,
}

/// Reads a 16-bit PCM WAV file (mono or multi-channel, averaged to mono). Other encodings and
/// malformed files are errors naming the file and what is wrong.
pub fn read_wav(path: impl AsRef<Path>) -> Result<Audio> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    parse_wav(&bytes).map_err(|message| DataError::Io {
        path: path.to_path_buf(),
        message: format!("not a 16-bit PCM WAV file: {message}"),
    })
}

/// Parses the bytes of a WAV file; the error says what is wrong.
fn parse_wav(bytes: &[u8]) -> std::result::Result<Audio, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("no RIFF/WAVE header".into());
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (mut format, mut data) = (None, None);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = u32_at(at + 4) as usize;
        let body = at + 8..(at + 8).saturating_add(size).min(bytes.len());
        match &bytes[at..at + 4] {
            b"fmt " if body.len() >= 16 => {
                let b = body.start;
                format = Some((u16_at(b), u16_at(b + 2), u32_at(b + 4), u16_at(b + 14)));
            }
            // espeak-ng writes 0x7fffffff as the data size when streaming: take what is there.
            b"data" => data = Some(body.start..bytes.len().min(body.start.saturating_add(size))),
            _ => {}
        }
        at = body.start.saturating_add(size + size % 2);
    }
    let (encoding, channels, sample_rate, bits) = format.ok_or("no `fmt ` chunk")?;
    let data = data.ok_or("no `data` chunk")?;
    if encoding != 1 || bits != 16 {
        return Err(format!(
            "encoding {encoding} with {bits} bits per sample (PCM 16 is read)"
        ));
    }
    if channels == 0 || sample_rate == 0 {
        return Err("zero channels or sample rate".into());
    }
    let frame = 2 * channels as usize;
    let samples = bytes[data]
        .chunks_exact(frame)
        .map(|f| {
            let sum: f32 = f
                .chunks_exact(2)
                .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])))
                .sum();
            sum / (channels as f32 * 32768.0)
        })
        .collect();
    Ok(Audio {
        sample_rate,
        samples,
    })
}

/// Log-mel frames: a Hann-windowed FFT of `fft_size` samples every `hop` samples, its power
/// summed in `bands` triangular mel bands from `min_hz` to half the sample rate, then
/// `ln(energy + 1e-6)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogMel {
    /// Samples per FFT, a power of two (512 ≈ 23 ms at 22.05 kHz).
    pub fft_size: usize,
    /// Samples between frames (220 = 10 ms at 22.05 kHz).
    pub hop: usize,
    /// Mel bands, the values per frame (D).
    pub bands: usize,
    /// The lowest frequency of the first band.
    pub min_hz: f32,
}

impl Default for LogMel {
    fn default() -> Self {
        Self {
            fft_size: 512,
            hop: 220,
            bands: 20,
            min_hz: 60.0,
        }
    }
}

impl LogMel {
    /// The frames of `audio`, `[steps][bands]`, with leading and trailing silence (frames
    /// more than 50 dB below the loudest) left out. Errors: a size that is not a power of two,
    /// no bands, a zero hop, or audio shorter than one frame or silent.
    ///
    /// ```
    /// use burn_rnn_data::audio::{Audio, LogMel};
    ///
    /// // 0.5 s of a 1 kHz tone at 16 kHz, 0.1 s of silence on either side.
    /// let rate = 16_000;
    /// let mut samples = vec![0.0; 1600];
    /// samples.extend((0..8000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin()));
    /// samples.extend(vec![0.0; 1600]);
    /// let mel = LogMel { hop: 160, ..LogMel::default() };
    /// let frames = mel.frames(&Audio { sample_rate: rate, samples })?;
    /// assert!((48..=56).contains(&frames.len()), "{}", frames.len()); // the tone, 10 ms a frame (and its edges)
    /// // The loudest band is the one holding 1 kHz.
    /// let loudest = (0..20).max_by(|&a, &b| frames[20][a].total_cmp(&frames[20][b])).unwrap();
    /// let centre = mel.band_centres(rate)[loudest];
    /// assert!((700.0..1400.0).contains(&centre), "{centre}");
    /// # Ok::<(), burn_rnn_data::DataError>(())
    /// ```
    pub fn frames(&self, audio: &Audio) -> Result<Vec<Vec<f32>>> {
        let n = self.fft_size;
        if !n.is_power_of_two() || n < 2 || self.bands == 0 || self.hop == 0 {
            return Err(DataError::InvalidParameter(format!(
                "log-mel frames need a power-of-two FFT size, at least one band and a hop (got {n}, {}, {})",
                self.bands, self.hop
            )));
        }
        if audio.samples.len() < n {
            return Err(DataError::Empty(format!(
                "{} samples are fewer than one frame of {n}",
                audio.samples.len()
            )));
        }
        let window: Vec<f32> = (0..n)
            .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f32 / n as f32).cos())
            .collect();
        let filters = self.filters(audio.sample_rate);
        let mut frames = Vec::new();
        let mut energy = Vec::new();
        for start in (0..=audio.samples.len() - n).step_by(self.hop) {
            let mut re: Vec<f32> = audio.samples[start..start + n]
                .iter()
                .zip(&window)
                .map(|(s, w)| s * w)
                .collect();
            let mut im = vec![0.0; n];
            fft(&mut re, &mut im);
            let power: Vec<f32> = (0..=n / 2).map(|k| re[k] * re[k] + im[k] * im[k]).collect();
            energy.push(power.iter().sum::<f32>());
            frames.push(
                filters
                    .iter()
                    .map(|f| (f.iter().map(|&(k, w)| w * power[k]).sum::<f32>() + 1e-6).ln())
                    .collect(),
            );
        }
        let loudest = energy.iter().copied().fold(0.0f32, f32::max);
        if loudest <= 0.0 {
            return Err(DataError::Empty("the recording is silent".into()));
        }
        let loud = |e: &f32| *e > loudest * 1e-5;
        let first = energy.iter().position(loud).unwrap_or(0);
        let last = energy.iter().rposition(loud).unwrap_or(frames.len() - 1);
        Ok(frames.drain(first..=last).collect())
    }

    /// The centre frequency of each band, in Hz.
    pub fn band_centres(&self, sample_rate: u32) -> Vec<f32> {
        let edges = self.edges(sample_rate);
        (1..=self.bands).map(|b| edges[b]).collect()
    }

    /// `bands + 2` frequencies evenly spaced in mel from `min_hz` to the Nyquist frequency.
    fn edges(&self, sample_rate: u32) -> Vec<f32> {
        let mel = |hz: f32| 2595.0 * (1.0 + hz / 700.0).log10();
        let hz = |mel: f32| 700.0 * (10f32.powf(mel / 2595.0) - 1.0);
        let (low, high) = (mel(self.min_hz), mel(sample_rate as f32 / 2.0));
        (0..self.bands + 2)
            .map(|i| hz(low + (high - low) * i as f32 / (self.bands + 1) as f32))
            .collect()
    }

    /// Each band's triangular weights as `(FFT bin, weight)` pairs.
    fn filters(&self, sample_rate: u32) -> Vec<Vec<(usize, f32)>> {
        let edges = self.edges(sample_rate);
        let bin_hz = sample_rate as f32 / self.fft_size as f32;
        (0..self.bands)
            .map(|b| {
                let (lo, mid, hi) = (edges[b], edges[b + 1], edges[b + 2]);
                (0..=self.fft_size / 2)
                    .filter_map(|k| {
                        let f = k as f32 * bin_hz;
                        let w = if f <= lo || f >= hi {
                            0.0
                        } else if f <= mid {
                            (f - lo) / (mid - lo)
                        } else {
                            (hi - f) / (hi - mid)
                        };
                        (w > 0.0).then_some((k, w))
                    })
                    .collect()
            })
            .collect()
    }
}

/// In-place iterative radix-2 FFT of `re + i·im` (length a power of two).
fn fft(re: &mut [f32], im: &mut [f32]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let angle = -2.0 * PI / len as f32;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (sin, cos) = (angle * k as f32).sin_cos();
                let (a, b) = (start + k, start + k + len / 2);
                let (xr, xi) = (re[b] * cos - im[b] * sin, re[b] * sin + im[b] * cos);
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
        len <<= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_matches_the_definition() {
        let x: Vec<f32> = (0..16).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
        let (mut re, mut im) = (x.clone(), vec![0.0; 16]);
        fft(&mut re, &mut im);
        for k in 0..16 {
            let (mut r, mut i) = (0.0f32, 0.0f32);
            for (t, v) in x.iter().enumerate() {
                let a = -2.0 * PI * (k * t) as f32 / 16.0;
                r += v * a.cos();
                i += v * a.sin();
            }
            assert!(
                (re[k] - r).abs() < 1e-4 && (im[k] - i).abs() < 1e-4,
                "bin {k}"
            );
        }
    }

    #[test]
    fn wav_files_round_trip_and_bad_ones_are_named() {
        let mut bytes = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        bytes.extend(16u32.to_le_bytes());
        bytes.extend(1u16.to_le_bytes()); // PCM
        bytes.extend(1u16.to_le_bytes()); // mono
        bytes.extend(8000u32.to_le_bytes());
        bytes.extend(16000u32.to_le_bytes());
        bytes.extend(2u16.to_le_bytes());
        bytes.extend(16u16.to_le_bytes());
        bytes.extend(b"data");
        bytes.extend(4u32.to_le_bytes());
        bytes.extend(16384i16.to_le_bytes());
        bytes.extend((-32768i16).to_le_bytes());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        std::fs::write(&path, &bytes).unwrap();
        let audio = read_wav(&path).unwrap();
        assert_eq!(
            (audio.sample_rate, audio.samples.clone()),
            (8000, vec![0.5, -1.0])
        );
        std::fs::write(&path, b"not audio").unwrap();
        let err = read_wav(&path).unwrap_err().to_string();
        assert!(err.contains("a.wav") && err.contains("RIFF"), "{err}");
        let short = LogMel::default().frames(&audio).unwrap_err().to_string();
        assert!(short.contains("fewer than one frame"), "{short}");
    }
}
