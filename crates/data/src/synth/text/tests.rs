use std::collections::HashSet;

use super::*;

#[test]
fn vocabulary_saves_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vocabulary.json");
    let vocabulary = Vocabulary::build(["the soup was good", "the soup"], 1).unwrap();
    vocabulary.save(&path).unwrap();
    assert_eq!(Vocabulary::load(&path).unwrap(), vocabulary);
    std::fs::write(&path, "{\"tokens\": [\"a\"]}").unwrap();
    let err = Vocabulary::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("vocabulary.json") && err.contains("<pad>"),
        "{err}"
    );
    let err = Vocabulary::load(dir.path().join("none.json")).unwrap_err();
    assert!(err.to_string().contains("none.json"), "{err}");
}

#[test]
fn split_keeps_mirrored_pairs_together() {
    let split = SentimentCorpus::split(SplitFractions::train_valid_test(0.7, 0.15), 5).unwrap();
    let sizes = [
        split.train.len(),
        split.valid.len(),
        split.test_handwritten.len(),
        split.test_templated.len(),
    ];
    assert_eq!(
        sizes.iter().sum::<usize>(),
        split.handwritten + split.templated
    );
    // The hand-written pairs each split holds (templated sentences are not in the corpus).
    let corpus = SentimentCorpus::builtin();
    let pairs = |texts: &[(String, usize)]| -> HashSet<usize> {
        texts
            .iter()
            .filter_map(|(text, _)| corpus.iter().position(|(t, _)| t == text))
            .map(|i| i / 2)
            .collect()
    };
    let train_pairs = pairs(&split.train);
    assert_eq!(
        split.handwritten_train,
        split.train.iter().filter(|s| corpus.contains(s)).count()
    );
    assert!(pairs(&split.test_handwritten).is_disjoint(&train_pairs));
    assert!(pairs(&split.valid).is_disjoint(&train_pairs));
    assert_eq!(split.test().len(), sizes[2] + sizes[3]);
    assert_eq!(split.test()[0], split.test_handwritten[0]);
    assert!(SentimentCorpus::split(SplitFractions::train_valid(1.5), 5).is_err());
}

#[test]
fn builtin_corpus_is_large_balanced_and_unique() {
    let corpus = SentimentCorpus::builtin();
    assert!(corpus.len() >= 300, "{} sentences", corpus.len());
    let positive = corpus.iter().filter(|(_, c)| *c == POSITIVE).count();
    let share = positive as f64 / corpus.len() as f64;
    assert!((0.45..=0.55).contains(&share), "positive share {share}");
    let mut seen = HashSet::new();
    for (text, _) in &corpus {
        assert!(seen.insert(tokenize(text)), "duplicate: {text}");
    }
    // Word order and negation matter somewhere in the corpus.
    assert!(
        corpus
            .iter()
            .any(|(t, _)| tokenize(t).contains(&"not".into()))
    );
    assert!(
        corpus
            .iter()
            .any(|(t, _)| tokenize(t).contains(&"but".into()))
    );
}

#[test]
fn templated_sentences_are_balanced() {
    let templated = SentimentCorpus::templated();
    assert_eq!(templated.len(), 720);
    let positive = templated.iter().filter(|(_, c)| *c == POSITIVE).count();
    assert_eq!(positive * 2, templated.len());
    assert!(templated.contains(&("the food was not great".into(), NEGATIVE)));
}

#[test]
fn tokenizes_negations() {
    assert_eq!(
        tokenize("I didn't like it, and I can't—WON'T—go back! It's 'fine'."),
        [
            "i", "did", "not", "like", "it", "and", "i", "can", "not", "will", "not", "go", "back",
            "it's", "fine"
        ]
    );
    assert_eq!(tokenize("Cannot fault it"), ["can", "not", "fault", "it"]);
    assert!(tokenize(" ... ").is_empty());
}

#[test]
fn vocabulary_round_trip() {
    let texts = ["the food was good", "the film was not good", "great film"];
    let vocab = Vocabulary::build(texts, 1).unwrap();
    assert_eq!(vocab.token(PAD_ID), Some(PAD_TOKEN));
    assert_eq!(vocab.token(UNK_ID), Some(UNK_TOKEN));
    // Most frequent first: "the", "was", "good", "film" appear twice.
    assert_eq!(vocab.tokens()[2..6], ["film", "good", "the", "was"]);
    let ids = vocab.encode("The film was GOOD");
    assert!(ids.iter().all(|&id| id > UNK_ID));
    assert_eq!(vocab.decode(&ids), "the film was good");
    assert_eq!(vocab.encode("the popcorn"), [vocab.id("the"), UNK_ID]);
    assert_eq!(vocab.decode(&[UNK_ID, 999, PAD_ID]), "<unk> <unk>");

    let frequent = Vocabulary::build(texts, 2).unwrap();
    assert_eq!(frequent.len(), 6);
    assert_eq!(frequent.encode("great"), [UNK_ID]);
    assert!(Vocabulary::build(texts, 0).is_err());

    let json = serde_json::to_string(&vocab).unwrap();
    let back: Vocabulary = serde_json::from_str(&json).unwrap();
    assert_eq!(back, vocab);
    assert!(serde_json::from_str::<Vocabulary>(r#"{"tokens":["a","b"]}"#).is_err());
}

#[test]
fn dataset_shapes_padding_and_truncation() {
    let texts = vec![
        ("not bad at all".to_string(), POSITIVE),
        ("awful".to_string(), NEGATIVE),
    ];
    let vocab = Vocabulary::build(texts.iter().map(|(t, _)| t.as_str()), 1).unwrap();
    let ids = sentiment_dataset(&texts, &vocab, 3, TokenEncoding::Ids).unwrap();
    assert_eq!((ids.len(), ids.num_steps(), ids.num_features()), (2, 3, 1));
    assert_eq!(ids.target_names(), ["negative", "positive"]);
    let first = &ids.samples()[0];
    assert_eq!(first.length, 3);
    let expected: Vec<f32> = vocab
        .encode("not bad at")
        .iter()
        .map(|&i| i as f32)
        .collect();
    assert_eq!(first.values, expected);
    assert_eq!(first.target, Target::Class(POSITIVE));
    let second = &ids.samples()[1];
    assert_eq!(second.length, 1);
    assert_eq!(second.values[1..], [0.0, 0.0]);

    let one_hot = sentiment_dataset(&texts, &vocab, 5, TokenEncoding::OneHot).unwrap();
    assert_eq!(one_hot.num_features(), vocab.len());
    let d = vocab.len();
    let second = &one_hot.samples()[1].values;
    assert_eq!(second[vocab.id("awful")], 1.0);
    assert_eq!(second.iter().sum::<f32>(), 1.0);
    assert_eq!(second[d..].iter().sum::<f32>(), 0.0);

    assert!(sentiment_dataset(&texts, &vocab, 0, TokenEncoding::Ids).is_err());
    let bad_class = vec![("good".to_string(), 2)];
    assert!(sentiment_dataset(&bad_class, &vocab, 3, TokenEncoding::Ids).is_err());
    let empty = vec![("?!".to_string(), 0)];
    assert!(sentiment_dataset(&empty, &vocab, 3, TokenEncoding::Ids).is_err());
}

#[test]
fn builtin_dataset_builds() {
    let corpus = SentimentCorpus::builtin();
    let vocab = Vocabulary::build(corpus.iter().map(|(t, _)| t.as_str()), 2).unwrap();
    let data = sentiment_dataset(&corpus, &vocab, 24, TokenEncoding::Ids).unwrap();
    assert_eq!(data.len(), corpus.len());
    assert_eq!(data.num_steps(), 24);
}

#[test]
fn parse_errors_name_the_line() {
    let err = SentimentCorpus::parse_tsv("positive\tfine\nmaybe\tso so").unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = SentimentCorpus::parse_tsv("# comment\nno tab here").unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}
