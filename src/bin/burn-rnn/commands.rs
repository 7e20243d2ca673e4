//! The four subcommands: their flags and the library calls they make.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn_rnn::data::inspect_csv;
use burn_rnn::train::{
    EvaluateOptions, PredictOptions, Progress, TrainOptions, TrainSpec, default_run_dir,
    evaluate_run, open_device, predict_each,
};
use clap::Args;

use crate::args::{ColumnArgs, DeviceArg, ModelArgs, PrecisionArg, RunArg, TrainingArgs};

/// `burn-rnn inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The CSV file.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub columns: ColumnArgs,
}

/// `burn-rnn train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The training CSV file (required unless --config names one).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A validation CSV file [default: hold out --valid-fraction of --data].
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// The share of --data held out for validation, in (0, 1): random sequences, or the last
    /// part of each series when forecasting [default: 0.2].
    #[arg(long)]
    pub valid_fraction: Option<f64>,
    /// Settings of an earlier run (its train.toml, or a JSON file) to train again; flags given
    /// as well override them (all but the columns).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub device: DeviceArg,
    /// Train data-parallel on several devices of one backend, e.g. flex,flex or cuda:0,cuda:1
    /// (in place of --device): each takes a batch of --batch-size per step and the optimiser
    /// steps on the mean gradient of the combined batch.
    #[arg(long, value_name = "LIST", conflicts_with = "device")]
    pub devices: Option<String>,
    /// The run directory [default: runs/<data file name>, or runs/<name>-2, ... when taken].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep the data on disk, whatever the task: the CSV file is converted once into the run
    /// directory (data.windows for forecasting, data.sequences otherwise) and each batch is
    /// read from it [default: on disk for files of 256 MiB or more].
    #[arg(long, conflicts_with = "in_memory")]
    pub on_disk: bool,
    /// Read the data into memory whatever its size.
    #[arg(long)]
    pub in_memory: bool,
    /// Continue from the last checkpoint in the run directory.
    #[arg(long)]
    pub resume: bool,
    /// No progress while training.
    #[arg(long)]
    pub quiet: bool,
}

/// `burn-rnn evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub run: RunArg,
    /// The CSV file to score, with its targets, laid out as the training file.
    #[arg(long)]
    pub data: PathBuf,
    /// Forecasting: the season of the seasonal-naive baseline (7 for daily data with a weekly
    /// cycle) [default: no seasonal baseline].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub season: Option<u64>,
    /// Forecasting: the steps the moving-average baseline averages [default: the window].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub average: Option<u64>,
    /// Where metrics.json and the plot go [default: the run directory].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub storage: ReadArgs,
    #[command(flatten)]
    pub device: DeviceArg,
    #[command(flatten)]
    pub precision: PrecisionArg,
}

/// How `evaluate` and `predict` read their file.
#[derive(Args, Debug)]
pub struct ReadArgs {
    /// Read the file a chunk of sequences (or forecasting windows) at a time, never whole
    /// [default: for files of 256 MiB or more].
    #[arg(long, conflicts_with = "in_memory")]
    pub on_disk: bool,
    /// Read the file whole into memory whatever its size.
    #[arg(long)]
    pub in_memory: bool,
}

impl ReadArgs {
    /// `Some(true)` for --on-disk, `Some(false)` for --in-memory, `None` to decide by size.
    fn choice(&self) -> Option<bool> {
        (self.on_disk || self.in_memory).then_some(self.on_disk)
    }
}

/// `burn-rnn predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    pub run: RunArg,
    /// The CSV file with the sequences (targets not needed), laid out as the training file.
    #[arg(long, alias = "input")]
    pub data: PathBuf,
    /// Write the predictions to this CSV file instead of printing them.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// For a run trained in code: the sequence id column of the long file.
    #[arg(long, default_value = "id")]
    pub id_column: String,
    /// For a run trained in code: the time column of the long file.
    #[arg(long, default_value = "time")]
    pub time_column: String,
    #[command(flatten)]
    pub storage: ReadArgs,
    #[command(flatten)]
    pub device: DeviceArg,
    #[command(flatten)]
    pub precision: PrecisionArg,
}

/// Prints what `train` would infer.
pub fn inspect(args: &InspectArgs) -> Result<()> {
    print!("{}", inspect_csv(&args.data, &args.columns.hints())?);
    Ok(())
}

/// Infers (or loads) the settings, prints them and trains.
pub fn train(args: &TrainArgs) -> Result<()> {
    let mut spec = match &args.config {
        Some(path) => {
            if args.columns.any() {
                bail!(
                    "--config fixes the columns and task; edit {} to change them, or train without --config",
                    path.display()
                );
            }
            let mut spec = TrainSpec::load(path)?;
            println!("settings from {}", path.display());
            if let Some(data) = &args.data {
                spec.data = data.clone();
            }
            spec
        }
        None => {
            let data = args
                .data
                .as_ref()
                .context("--data FILE is required (or --config with a saved train.toml)")?;
            let inspection = inspect_csv(data, &args.columns.hints())?;
            print!("{inspection}");
            TrainSpec::new(data, inspection.spec, PathBuf::new())
        }
    };
    args.model.apply(&mut spec.model);
    args.training.apply(&mut spec.training);
    if let Some(device) = &args.device.device {
        spec.device = device.clone();
        spec.devices = None;
    }
    if let Some(list) = &args.devices {
        burn_rnn::train::parse_device_list(list)?;
        spec.devices = Some(list.clone());
    }
    if args.valid.is_some() {
        spec.valid = args.valid.clone();
    }
    if let Some(fraction) = args.valid_fraction {
        spec.valid_fraction = fraction;
    }
    if args.on_disk || args.in_memory {
        spec.on_disk = Some(args.on_disk);
    }
    spec.out = match (&args.out, &args.config) {
        (Some(out), _) => out.clone(),
        (None, Some(_)) => spec.out.clone(),
        (None, None) if args.resume => {
            Path::new("runs").join(spec.data.file_stem().unwrap_or_default())
        }
        (None, None) => default_run_dir(Path::new("runs"), &spec.data),
    };
    println!("{spec}");
    println!("storage    {}", spec.storage()?);
    let options = TrainOptions {
        resume: args.resume,
        progress: Progress::unless_quiet(args.quiet),
    };
    let outcome = spec.train(options)?;
    let run = &outcome.run;
    println!(
        "{} on {} training and {} validation {}",
        run.summary(),
        outcome.train_set.num_samples(),
        outcome.valid_set.num_samples(),
        if spec.columns.task == burn_rnn::data::Task::Forecast {
            "windows"
        } else {
            "sequences"
        }
    );
    if let Some(best) = run.history.get(run.best_epoch - 1) {
        let mut line = format!("validation loss {:.4}", best.valid_loss);
        if let Some(accuracy) = best.valid_accuracy {
            line += &format!(", accuracy {accuracy:.1} %");
        }
        for (name, mae) in &best.valid_mae {
            line += &format!(", MAE {name} {mae:.4}");
        }
        println!("{line}");
    }
    println!(
        "wrote {} (model.bpk, train.toml, data.json, metrics.csv, loss.png)",
        spec.out.display()
    );
    println!(
        "next: burn-rnn evaluate --run {} --data TEST.csv; burn-rnn predict --run {} --data NEW.csv",
        spec.out.display(),
        spec.out.display()
    );
    Ok(())
}

/// Scores a run on a file and writes metrics.json and a plot.
pub fn evaluate(args: &EvaluateArgs) -> Result<()> {
    let device = device(&args.device)?;
    args.precision.apply(&args.device)?;
    let options = EvaluateOptions {
        out: args.out.clone(),
        season: args.season.map(|s| s as usize),
        average: args.average.map(|s| s as usize),
        in_chunks: args.storage.choice(),
    };
    let result = evaluate_run(&args.run.run, &args.data, &device, &options)
        .with_context(|| format!("evaluating the run in {}", args.run.run.display()))?;
    print!("{}", result.evaluation);
    let files: Vec<String> = result
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    println!("wrote {}", files.join(" and "));
    Ok(())
}

/// Prints (or writes) the predictions as CSV, each record as it is made.
pub fn predict(args: &PredictArgs) -> Result<()> {
    let device = device(&args.device)?;
    args.precision.apply(&args.device)?;
    let options = PredictOptions {
        id: args.id_column.clone(),
        time: args.time_column.clone(),
        in_chunks: args.storage.choice(),
    };
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let mut out = csv::Writer::from_writer(sink);
    let mut records = 0usize;
    let predicted = predict_each(
        &args.run.run,
        &args.data,
        &device,
        &options,
        &mut |record| {
            records += 1;
            out.write_record(&record).map_err(|e| {
                burn_rnn::train::TrainError::InvalidInput(format!("writing the predictions: {e}"))
            })
        },
    );
    let written = predicted
        .with_context(|| format!("predicting with the run in {}", args.run.run.display()))
        .and_then(|()| Ok(out.flush()?));
    if let Err(error) = written {
        if let Some(path) = &args.output {
            // No half-written file is left behind.
            let _ = std::fs::remove_file(path);
        }
        return Err(error);
    }
    if let Some(path) = &args.output {
        eprintln!(
            "wrote {} predictions to {}",
            records.saturating_sub(1),
            path.display()
        );
    }
    Ok(())
}

fn device(arg: &DeviceArg) -> Result<burn::tensor::Device> {
    Ok(open_device(arg.device.as_deref().unwrap_or("flex"))?)
}

/// `burn-rnn serve-device`.
#[derive(Args, Debug)]
pub struct ServeDeviceArgs {
    /// The TCP port to listen on, on every interface (0: any free port, printed).
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// The local device to host: flex, ndarray, wgpu or cuda.
    #[arg(long, default_value = "flex")]
    pub device: burn_rnn::train::Backend,
    /// Serve only clients that present this token (they set BURN_RNN_REMOTE_TOKEN). The
    /// WebSocket transport is unencrypted: use it on a trusted network.
    #[arg(long)]
    pub token: Option<String>,
}

/// Hosts a device for `--device remote:ws://HOST:PORT` clients until Ctrl+C.
#[cfg(feature = "remote")]
pub fn serve_device(args: &ServeDeviceArgs) -> Result<()> {
    let device = args.device.device()?;
    burn_rnn::train::remote::serve(device, args.port, args.token.as_deref(), |port| {
        println!(
            "serving {} on port {port}: train with --device remote:ws://HOST:{port}{}; Ctrl+C stops",
            args.device,
            if args.token.is_some() {
                " and BURN_RNN_REMOTE_TOKEN set to the token"
            } else {
                ""
            }
        );
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}

/// This build has no remote feature: says so.
#[cfg(not(feature = "remote"))]
pub fn serve_device(_args: &ServeDeviceArgs) -> Result<()> {
    bail!("this build of burn-rnn has no `remote` feature (cargo build --features remote)")
}
