//! A small labelled sentiment corpus, a vocabulary and token-id sequence datasets for the notes'
//! sentiment-analysis example.
//!
//! The corpus (`sentiment.tsv` next to this file, `label<TAB>sentence`) was written by hand for
//! this project: short reviews of products, food, films and service, half positive and half
//! negative, with negations ("not bad", "never disappointed") and contrasts ("looked great, but
//! tasted awful") so that word order matters. It is shipped with the crate under the crate's
//! licence. [`SentimentCorpus::templated`] adds sentences built in code from templates, kept
//! apart so that the hand-written set can be used alone.
//!
//! Tokenisation ([`tokenize`]): lowercase; words are runs of letters, digits and apostrophes
//! (curly apostrophes count); leading and trailing apostrophes are dropped; a word ending in
//! `n't` is split into its stem and `not` (`didn't` → `did not`, `can't` → `can not`,
//! `won't` → `will not`), and `cannot` becomes `can not`, so that every negation shares the
//! token `not`. Other contractions stay whole (`it's`, `i'd`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};
use crate::split::{SplitFractions, random_indices};

/// Class index of negative texts.
pub const NEGATIVE: usize = 0;
/// Class index of positive texts.
pub const POSITIVE: usize = 1;
/// Class names in class-index order: `["negative", "positive"]`.
pub const SENTIMENT_CLASSES: [&str; 2] = ["negative", "positive"];

/// The id of the padding token `<pad>`; padded steps hold it.
pub const PAD_ID: usize = 0;
/// The id of the unknown-word token `<unk>`.
pub const UNK_ID: usize = 1;
/// The padding token.
pub const PAD_TOKEN: &str = "<pad>";
/// The unknown-word token.
pub const UNK_TOKEN: &str = "<unk>";

const BUILTIN_TSV: &str = include_str!("sentiment.tsv");

/// Splits a text into lowercase tokens (see the module documentation for the rules).
pub fn tokenize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace('\u{2019}', "'");
    let mut tokens = Vec::new();
    for word in lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let word = word.trim_matches('\'');
        if word.is_empty() {
            continue;
        }
        let stem = if word == "cannot" {
            Some("can")
        } else {
            word.strip_suffix("n't").map(|stem| match stem {
                "ca" => "can",
                "wo" => "will",
                "sha" => "shall",
                "ai" => "is",
                other => other,
            })
        };
        match stem {
            Some(stem) => {
                if !stem.is_empty() {
                    tokens.push(stem.to_string());
                }
                tokens.push("not".to_string());
            }
            None => tokens.push(word.to_string()),
        }
    }
    tokens
}

/// A token ↔ id table: id 0 is `<pad>`, id 1 is `<unk>`, then the known tokens, most frequent
/// first (ties alphabetically). Serialised as its token list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "VocabularyTokens", into = "VocabularyTokens")]
pub struct Vocabulary {
    tokens: Vec<String>,
    ids: HashMap<String, usize>,
}

/// The serialised form of a [`Vocabulary`].
#[derive(Serialize, Deserialize)]
struct VocabularyTokens {
    tokens: Vec<String>,
}

impl TryFrom<VocabularyTokens> for Vocabulary {
    type Error = DataError;

    fn try_from(value: VocabularyTokens) -> Result<Self> {
        Vocabulary::from_tokens(value.tokens)
    }
}

impl From<Vocabulary> for VocabularyTokens {
    fn from(value: Vocabulary) -> Self {
        Self {
            tokens: value.tokens,
        }
    }
}

impl Vocabulary {
    /// Builds a vocabulary from (training) texts, keeping the tokens seen at least `min_count`
    /// times (`min_count ≥ 1`); rarer tokens will encode as `<unk>`.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>, min_count: usize) -> Result<Self> {
        if min_count == 0 {
            return Err(DataError::InvalidParameter(
                "vocabulary: `min_count` must be at least 1".into(),
            ));
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in texts {
            for token in tokenize(text) {
                *counts.entry(token).or_default() += 1;
            }
        }
        let mut kept: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|(token, count)| {
                *count >= min_count && token != PAD_TOKEN && token != UNK_TOKEN
            })
            .collect();
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let tokens = [PAD_TOKEN.to_string(), UNK_TOKEN.to_string()]
            .into_iter()
            .chain(kept.into_iter().map(|(token, _)| token))
            .collect();
        Self::from_tokens(tokens)
    }

    /// A vocabulary from its token list, which must start with `<pad>`, `<unk>` and hold no
    /// duplicates (e.g. a list saved by serialising a vocabulary).
    pub fn from_tokens(tokens: Vec<String>) -> Result<Self> {
        if tokens.len() < 2 || tokens[PAD_ID] != PAD_TOKEN || tokens[UNK_ID] != UNK_TOKEN {
            return Err(DataError::InvalidParameter(format!(
                "vocabulary: the token list must start with `{PAD_TOKEN}`, `{UNK_TOKEN}` (got {:?})",
                &tokens[..tokens.len().min(2)]
            )));
        }
        let mut ids = HashMap::with_capacity(tokens.len());
        for (id, token) in tokens.iter().enumerate() {
            if ids.insert(token.clone(), id).is_some() {
                return Err(DataError::InvalidParameter(format!(
                    "vocabulary: token {token:?} appears twice (id {id})"
                )));
            }
        }
        Ok(Self { tokens, ids })
    }

    /// Writes the vocabulary to `path` as JSON (`{"tokens": [...]}`), atomically, to encode new
    /// texts the way the training texts were. Errors name the file.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        let io = |message: String| DataError::Io {
            path: path.to_path_buf(),
            message,
        };
        let json = serde_json::to_string(self).map_err(|e| io(e.to_string()))?;
        burn_rnn_io::write_atomic(path, json.as_bytes()).map_err(|e| io(e.to_string()))
    }

    /// Reads a vocabulary written by [`Vocabulary::save`]. Errors name the file and what is
    /// wrong with it.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |message: String| DataError::Io {
            path: path.to_path_buf(),
            message,
        };
        let json = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
        serde_json::from_str(&json).map_err(|e| io(format!("not a vocabulary: {e}")))
    }

    /// The number of ids, including `<pad>` and `<unk>` (the embedding table's size).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary has no ids (never true: `<pad>` and `<unk>` are always there).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of a token (already tokenised), or [`UNK_ID`] when unknown.
    pub fn id(&self, token: &str) -> usize {
        self.ids.get(token).copied().unwrap_or(UNK_ID)
    }

    /// The token of an id, or `None` when out of range.
    pub fn token(&self, id: usize) -> Option<&str> {
        self.tokens.get(id).map(String::as_str)
    }

    /// All tokens in id order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Tokenises a text and maps each token to its id (unknown tokens → [`UNK_ID`]).
    pub fn encode(&self, text: &str) -> Vec<usize> {
        tokenize(text).iter().map(|t| self.id(t)).collect()
    }

    /// The tokens of `ids` joined by single spaces; `<pad>` ids are skipped and out-of-range ids
    /// read as `<unk>`.
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter()
            .filter(|&&id| id != PAD_ID)
            .map(|&id| self.token(id).unwrap_or(UNK_TOKEN))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The built-in labelled sentences: `(text, class)` pairs with class [`NEGATIVE`] or [`POSITIVE`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SentimentCorpus;

impl SentimentCorpus {
    /// The hand-written corpus (`sentiment.tsv`): at least 300 sentences, balanced between the
    /// two classes, in file order.
    pub fn builtin() -> Vec<(String, usize)> {
        // The shipped file is checked by the tests; a failure here is a bug in the crate.
        Self::parse_tsv(BUILTIN_TSV).expect("the built-in sentiment.tsv is well-formed")
    }

    /// Parses `label<TAB>sentence` lines; the label is `positive`/`1` or `negative`/`0`. Blank
    /// lines and lines starting with `#` are skipped. Errors name the 1-based line at fault.
    pub fn parse_tsv(text: &str) -> Result<Vec<(String, usize)>> {
        let mut out = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (label, sentence) = line.split_once('\t').ok_or_else(|| {
                DataError::InvalidParameter(format!(
                    "sentiment TSV line {}: expected `label<TAB>sentence`",
                    index + 1
                ))
            })?;
            let class = match label.trim() {
                "positive" | "1" => POSITIVE,
                "negative" | "0" => NEGATIVE,
                other => {
                    return Err(DataError::InvalidParameter(format!(
                        "sentiment TSV line {}: unknown label {other:?} (expected positive or negative)",
                        index + 1
                    )));
                }
            };
            let sentence = sentence.trim();
            if tokenize(sentence).is_empty() {
                return Err(DataError::InvalidParameter(format!(
                    "sentiment TSV line {}: the sentence has no words",
                    index + 1
                )));
            }
            out.push((sentence.to_string(), class));
        }
        Ok(out)
    }

    /// Extra sentences generated from templates, in a fixed order, for more training data:
    /// every subject with every adjective in "the S was A" (the adjective's class) and
    /// "the S was not A" (the opposite class), and contrasts "the S was A but the S' was B"
    /// labelled by the clause after "but" (B's class), with A and B of opposite classes.
    /// 12 subjects × 20 adjectives × 2 + 12 × 20 contrasts = 720 sentences, balanced.
    pub fn templated() -> Vec<(String, usize)> {
        const SUBJECTS: [&str; 12] = [
            "food", "service", "film", "staff", "battery", "room", "ending", "delivery", "soup",
            "screen", "music", "price",
        ];
        const POSITIVE_WORDS: [&str; 10] = [
            "great",
            "excellent",
            "wonderful",
            "superb",
            "lovely",
            "fantastic",
            "impressive",
            "pleasant",
            "brilliant",
            "decent",
        ];
        const NEGATIVE_WORDS: [&str; 10] = [
            "awful",
            "terrible",
            "disappointing",
            "poor",
            "dreadful",
            "mediocre",
            "horrible",
            "annoying",
            "useless",
            "bad",
        ];
        let adjectives = POSITIVE_WORDS
            .iter()
            .map(|a| (*a, POSITIVE))
            .chain(NEGATIVE_WORDS.iter().map(|a| (*a, NEGATIVE)));
        let mut out = Vec::new();
        for subject in SUBJECTS {
            for (adjective, class) in adjectives.clone() {
                out.push((format!("the {subject} was {adjective}"), class));
                out.push((format!("the {subject} was not {adjective}"), 1 - class));
            }
        }
        for (s, subject) in SUBJECTS.iter().enumerate() {
            let other = SUBJECTS[(s + 1) % SUBJECTS.len()];
            for i in 0..POSITIVE_WORDS.len() {
                let good = POSITIVE_WORDS[i];
                let bad = NEGATIVE_WORDS[(i + s) % NEGATIVE_WORDS.len()];
                out.push((
                    format!("the {subject} was {good} but the {other} was {bad}"),
                    NEGATIVE,
                ));
                out.push((
                    format!("the {subject} was {bad} but the {other} was {good}"),
                    POSITIVE,
                ));
            }
        }
        out
    }
}

/// The built-in sentences split for training, validation and a test the model never sees:
/// see [`SentimentCorpus::split`]. Each list holds `(text, class)` pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentSplit {
    /// Training sentences: the hand-written ones first, then the templated ones.
    pub train: Vec<(String, usize)>,
    /// Validation sentences (choosing the epoch), hand-written then templated.
    pub valid: Vec<(String, usize)>,
    /// Hand-written test sentences.
    pub test_handwritten: Vec<(String, usize)>,
    /// Templated test sentences.
    pub test_templated: Vec<(String, usize)>,
    /// How many of the training sentences are hand-written (the first ones).
    pub handwritten_train: usize,
    /// Sentences in the hand-written corpus, all splits together.
    pub handwritten: usize,
    /// Templated sentences, all splits together.
    pub templated: usize,
}

impl SentimentSplit {
    /// The test sentences: the hand-written ones, then the templated ones.
    pub fn test(&self) -> Vec<(String, usize)> {
        let mut test = self.test_handwritten.clone();
        test.extend(self.test_templated.iter().cloned());
        test
    }
}

impl SentimentCorpus {
    /// Splits [`SentimentCorpus::builtin`] and [`SentimentCorpus::templated`] at random by
    /// `fractions` (seeded). The hand-written corpus alternates positive and negative sentences
    /// in mirrored pairs that share most words, so it is split by pair: a test sentence's twin
    /// is never trained on, or the test would reward remembering the twin's words. An odd last
    /// sentence goes to training.
    pub fn split(fractions: SplitFractions, seed: u64) -> Result<SentimentSplit> {
        let corpus = Self::builtin();
        let pairs = random_indices(corpus.len() / 2, fractions, seed)?;
        let pick_pairs = |pairs: &[usize]| -> Vec<(String, usize)> {
            pairs
                .iter()
                .flat_map(|&p| [2 * p, 2 * p + 1])
                .map(|i| corpus[i].clone())
                .collect()
        };
        let templated = Self::templated();
        let sentences = random_indices(templated.len(), fractions, seed)?;
        let pick = |ids: &[usize]| -> Vec<(String, usize)> {
            ids.iter().map(|&i| templated[i].clone()).collect()
        };

        let mut train = pick_pairs(&pairs.train);
        if corpus.len() % 2 == 1 {
            train.push(corpus[corpus.len() - 1].clone());
        }
        let handwritten_train = train.len();
        train.extend(pick(&sentences.train));
        let mut valid = pick_pairs(&pairs.valid);
        valid.extend(pick(&sentences.valid));
        Ok(SentimentSplit {
            train,
            valid,
            test_handwritten: pick_pairs(&pairs.test),
            test_templated: pick(&sentences.test),
            handwritten_train,
            handwritten: corpus.len(),
            templated: templated.len(),
        })
    }
}

/// How each token becomes a step's features in [`sentiment_dataset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TokenEncoding {
    /// One feature per step holding the token id as `f32` (D = 1); the model embeds the ids
    /// (an embedding table of `vocabulary.len()` rows). Padding steps hold [`PAD_ID`] (0.0).
    #[default]
    Ids,
    /// A one-hot vector per step (D = `vocabulary.len()`), usable by a plain RNN without an
    /// embedding. Padding steps are all zeros.
    OneHot,
}

/// A classification dataset of tokenised texts: N = `texts.len()`, T = `max_len`, D = 1
/// ([`TokenEncoding::Ids`]) or `vocabulary.len()` ([`TokenEncoding::OneHot`]); class 0
/// `"negative"`, 1 `"positive"`. Each text is encoded with `vocabulary`; texts longer than
/// `max_len` tokens keep their first `max_len` tokens; shorter ones are padded at the end and
/// their `length` is their token count. Errors for `max_len = 0`, a class above 1 or a text
/// without tokens (naming the text's index).
pub fn sentiment_dataset(
    texts: &[(String, usize)],
    vocabulary: &Vocabulary,
    max_len: usize,
    encoding: TokenEncoding,
) -> Result<SequenceDataset> {
    if max_len == 0 {
        return Err(DataError::InvalidParameter(
            "sentiment: `max_len` must be at least 1".into(),
        ));
    }
    let features = match encoding {
        TokenEncoding::Ids => 1,
        TokenEncoding::OneHot => vocabulary.len(),
    };
    let mut samples = Vec::with_capacity(texts.len());
    for (index, (text, class)) in texts.iter().enumerate() {
        if *class >= SENTIMENT_CLASSES.len() {
            return Err(DataError::InvalidParameter(format!(
                "sentiment: text {index} has class {class}, expected 0 (negative) or 1 (positive)"
            )));
        }
        let mut ids = vocabulary.encode(text);
        if ids.is_empty() {
            return Err(DataError::InvalidParameter(format!(
                "sentiment: text {index} ({text:?}) has no tokens"
            )));
        }
        ids.truncate(max_len);
        let mut values = vec![0.0; max_len * features];
        for (t, &id) in ids.iter().enumerate() {
            match encoding {
                TokenEncoding::Ids => values[t] = id as f32,
                TokenEncoding::OneHot => values[t * features + id] = 1.0,
            }
        }
        samples.push(SequenceSample {
            id: format!("text-{index}"),
            values,
            length: ids.len(),
            target: Target::Class(*class),
        });
    }
    let feature_names = match encoding {
        TokenEncoding::Ids => vec!["token id".to_string()],
        TokenEncoding::OneHot => vocabulary.tokens().to_vec(),
    };
    SequenceDataset::new(
        samples,
        max_len,
        features,
        TargetKind::Classification {
            classes: SENTIMENT_CLASSES.len(),
        },
    )?
    .with_feature_names(feature_names)?
    .with_target_names(SENTIMENT_CLASSES.map(String::from).to_vec())
}

#[cfg(test)]
mod tests;
