//! A tch (libtorch) training loop with GPU statistics in TensorBoard and CSV.
//!
//! A two-layer perceptron learns to classify synthetic MNIST-shaped data
//! (784 features, 10 classes; the label is the arg-max of a fixed random
//! projection, so there is something to learn). Every step goes through
//! `synced_step`, which synchronises CUDA before the step clock stops.
//!
//! ```text
//! eval "$(scripts/provision-libtorch.sh)"          # libtorch 2.13.0, once
//! cd integrations/tch
//! NVITOP_SIMULATE=1 cargo run --example tch_mnist_like -- --steps 50 --logdir runs/tch-demo
//! tensorboard --logdir runs/tch-demo
//! ```
//!
//! Options: `--steps N` (default 200), `--logdir DIR` (the run folder,
//! default `runs/<Mon>DD_HH-MM-SS_<host>`), `--batch-size N` (default 64),
//! `--device cpu|cuda:N` (default CUDA 0 when libtorch has one, else CPU),
//! `--log-cuda 0,1` (CUDA ordinals to log; default the training device, or
//! simulated `cuda:0` when training on the CPU under `NVITOP_SIMULATE`, so
//! the demo has GPU columns to show), `--validate-every N` (a validation
//! pass every N steps, between the logger's validation hooks, so the
//! monitor shows the run's phase; default 50, 0 for none),
//! `--inline-panel` (the logged GPUs' bars, the step rate and the ETA in
//! the last lines of the terminal, the example's lines scrolling above;
//! off when stdout is not a terminal).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use nvitop::LogReport;
use nvitop::backend::Backend;
use nvitop::sink::{default_log_parent, default_run_dir};
use nvitop_monitor::inline_panel::{PanelOptions, StdoutPanel};
use nvitop_tch::{TchLoggerExt, logger_builder_for};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// What to train and where to log.
pub struct Options {
    /// Optimiser steps.
    pub steps: u64,
    /// Run folder: the event file goes here, the CSV is `gpu.csv` in it.
    pub logdir: PathBuf,
    /// Examples per batch.
    pub batch_size: i64,
    /// Where the model trains.
    pub device: Device,
    /// Devices whose statistics are logged.
    pub logged: Vec<Device>,
    /// Backend for the logger; `None` is the default one (NVML, or the
    /// simulator under `NVITOP_SIMULATE`).
    pub backend: Option<Arc<dyn Backend>>,
    /// A validation pass every this many steps (0: none).
    pub validate_every: u64,
    /// The inline panel at the bottom of the terminal (when stdout is one).
    pub inline_panel: bool,
}

/// What a run did.
pub struct Outcome {
    /// Loss of the first and the last batch.
    pub first_loss: f64,
    /// Loss of the last batch.
    pub last_loss: f64,
    /// The logger's report.
    pub report: LogReport,
}

const FEATURES: i64 = 28 * 28;
const CLASSES: i64 = 10;

/// Trains the perceptron for `options.steps` steps.
pub fn train(options: &Options) -> Result<Outcome, Box<dyn std::error::Error>> {
    tch::manual_seed(0);
    let device = options.device;
    // The hidden rule: label = argmax(x · W), W fixed.
    let rule = Tensor::randn([FEATURES, CLASSES], (Kind::Float, device));

    let vs = nn::VarStore::new(device);
    let root = vs.root();
    let net = nn::seq()
        .add(nn::linear(&root / "hidden", FEATURES, 128, nn::LinearConfig::default()))
        .add_fn(Tensor::relu)
        .add(nn::linear(&root / "out", 128, CLASSES, nn::LinearConfig::default()));
    let mut optimizer = nn::Adam::default().build(&vs, 1e-3)?;

    let mut builder = logger_builder_for(&options.logged)
        .tensorboard(&options.logdir)
        .csv(options.logdir.join("gpu.csv"))
        .interval(Duration::from_millis(100))
        .intra_step_time(true)
        .inter_step_time(true)
        .temperature(true)
        .power(true);
    if let Some(backend) = &options.backend {
        builder = builder.backend(Arc::clone(backend));
    }
    let logger = builder.build()?;
    // The panel reads the logged GPUs on its own thread; `None` without a
    // terminal on stdout (the lines are then printed as usual).
    let panel = if options.inline_panel {
        let panel_options = PanelOptions {
            total_steps: Some(options.steps),
            ..PanelOptions::default()
        };
        StdoutPanel::stdout(logger.sampler().devices().to_vec(), panel_options)?
    } else {
        None
    };
    let say = |line: &str| match &panel {
        // A terminal that cannot be written to is no reason to stop training.
        Some(panel) => {
            let _ = panel.println(line);
        }
        None => println!("{line}"),
    };

    logger.on_train_start();
    logger.on_train_epoch_start(0);
    let (mut first_loss, mut last_loss) = (f64::NAN, f64::NAN);
    for step in 0..options.steps {
        {
            let _step = logger.synced_step(step, std::slice::from_ref(&options.device));
            let x = Tensor::randn([options.batch_size, FEATURES], (Kind::Float, device));
            let y = x.matmul(&rule).argmax(-1, false);
            let loss = net.forward(&x).cross_entropy_for_logits(&y);
            optimizer.backward_step(&loss);
            last_loss = loss.double_value(&[]);
            // The loss next to the GPU curves, in the same TensorBoard run.
            logger.log_tensor("train/loss", &loss, step);
            if step == 0 {
                first_loss = last_loss;
            }
        }
        if let Some(panel) = &panel {
            panel.set_step(step + 1);
        }
        if options.validate_every > 0 && (step + 1).is_multiple_of(options.validate_every) {
            // Between the validation hooks the monitor shows the run in
            // `validation`, and this pause is not an inter-step time.
            logger.on_validation_start();
            let accuracy = tch::no_grad(|| {
                let x = Tensor::randn([options.batch_size, FEATURES], (Kind::Float, device));
                let y = x.matmul(&rule).argmax(-1, false);
                net.forward(&x)
                    .argmax(-1, false)
                    .eq_tensor(&y)
                    .to_kind(Kind::Float)
                    .mean(Kind::Float)
                    .double_value(&[])
            });
            logger.on_validation_end();
            logger.log_scalar("validation/accuracy", accuracy, step);
            say(&format!(
                "step {}: loss {last_loss:.3}, validation accuracy {accuracy:.3}",
                step + 1
            ));
        }
    }
    logger.on_train_epoch_end(0);
    logger.on_train_end();
    if let Some(panel) = panel {
        panel.finish()?;
    }
    Ok(Outcome {
        first_loss,
        last_loss,
        report: logger.close(),
    })
}

fn parse_device(value: &str) -> Result<Device, String> {
    match value {
        "cpu" => Ok(Device::Cpu),
        cuda => cuda
            .strip_prefix("cuda:")
            .and_then(|i| i.parse::<usize>().ok())
            .map(Device::Cuda)
            .ok_or_else(|| format!("--device: '{value}' is neither cpu nor cuda:N")),
    }
}

fn parse_args() -> Result<Options, String> {
    let mut steps = 200;
    let mut batch_size = 64;
    let mut logdir = None;
    let mut device = Device::cuda_if_available();
    let mut log_cuda: Option<Vec<Device>> = None;
    let mut validate_every = 50;
    let mut inline_panel = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--steps" => steps = value()?.parse().map_err(|_| "--steps needs a number".to_owned())?,
            "--batch-size" => {
                batch_size = value()?.parse().map_err(|_| "--batch-size needs a number".to_owned())?;
            }
            "--logdir" => logdir = Some(PathBuf::from(value()?)),
            "--device" => device = parse_device(&value()?)?,
            "--validate-every" => {
                validate_every = value()?
                    .parse()
                    .map_err(|_| "--validate-every needs a number".to_owned())?;
            }
            "--inline-panel" => inline_panel = true,
            "--log-cuda" => {
                log_cuda = Some(
                    value()?
                        .split(',')
                        .map(|i| i.trim().parse::<usize>().map(Device::Cuda))
                        .collect::<Result<_, _>>()
                        .map_err(|_| "--log-cuda needs CUDA ordinals such as 0,1".to_owned())?,
                );
            }
            "-h" | "--help" => {
                print!(
                    "A tch training loop with GPU statistics and the loss in TensorBoard and CSV.\n\n\
                     Usage: tch_mnist_like [OPTIONS]\n\n\
                     Options:\n  \
                     --steps N           steps (default 200)\n  \
                     --logdir DIR        the run folder (default runs/<Mon>DD_HH-MM-SS_<host>)\n  \
                     --batch-size N      batch size (default 64)\n  \
                     --device cpu|cuda:N the training device (default CUDA 0 when libtorch has one, else CPU)\n  \
                     --log-cuda 0,1      CUDA ordinals to log (default the training device)\n  \
                     --validate-every N  a validation pass every N steps (default 50, 0: none)\n  \
                     --inline-panel      the GPUs, step rate and ETA at the bottom of the terminal\n                      \
                     (off when stdout is not a terminal)\n  \
                     -h, --help          print this help\n"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown option '{other}' (--help lists the options)")),
        }
    }
    let simulated =
        nvitop::global::simulate_spec(std::env::var(nvitop::global::SIMULATE_ENV).ok().as_deref()).is_some();
    let logged = log_cuda.unwrap_or_else(|| {
        if device == Device::Cpu && simulated {
            // CPU training on a simulated machine: show simulated cuda:0.
            vec![device, Device::Cuda(0)]
        } else {
            vec![device]
        }
    });
    Ok(Options {
        steps,
        logdir: logdir.unwrap_or_else(|| default_run_dir(&default_log_parent())),
        batch_size,
        device,
        logged,
        backend: None,
        validate_every,
        inline_panel,
    })
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("tch_mnist_like: {message}");
            return ExitCode::from(2);
        }
    };
    println!(
        "training on {:?} for {} steps, GPU statistics of {:?} -> {}",
        options.device,
        options.steps,
        options.logged,
        options.logdir.display()
    );
    match train(&options) {
        Ok(outcome) => {
            println!(
                "loss {:.3} -> {:.3}; {}",
                outcome.first_loss, outcome.last_loss, outcome.report
            );
            if outcome.report.is_clean() {
                ExitCode::SUCCESS
            } else {
                eprintln!("tch_mnist_like: {:?}", outcome.report.errors);
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("tch_mnist_like: {err}");
            ExitCode::FAILURE
        }
    }
}
