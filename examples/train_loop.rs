//! A plain Rust training loop (no framework) with GPU statistics and the
//! model's loss in one TensorBoard run and one CSV file.
//!
//! A two-layer perceptron learns a noisy sine on synthetic data, with
//! hand-written backpropagation; `GpuStatsLogger` hooks wrap every batch and
//! epoch, and the loss goes through the same logger (`log_scalar`). Run it
//! anywhere with the simulator:
//!
//! ```text
//! cargo run --example train_loop -- --simulate --name demo --epochs 3
//! tensorboard --logdir runs
//! ```
//!
//! `--help` lists the options. While it runs, `nvitop-monitor -m` shows
//! its progress in its process row (the logger publishes a training status
//! record). Ctrl-C (or SIGTERM) ends the run after the current step, as its
//! last epoch would: the logs are closed and the status record removed; a
//! second Ctrl-C stops it at once.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nvitop::GpuStatsLogger;
use nvitop::backend::sim::SimBackend;
use nvitop::sink::{default_log_parent, default_run_dir};

const HELP: &str = "\
A training loop with GPU statistics and the loss in TensorBoard and CSV.

Usage: train_loop [OPTIONS]

Options:
  --name NAME        run folder LOGDIR/NAME (default: a timestamped name)
  --logdir DIR       parent folder of runs (default: $NVITOP_LOGDIR, or runs)
  --epochs N         epochs (default 3)
  --steps N          batches per epoch (default 50)
  --step-ms MS       extra sleep per step, standing in for GPU work (default 2)
  --validation-ms MS extra sleep in each validation pass (default 0)
  --gpus 0,1         CUDA devices to log, as the training framework numbers
                     them (cuda:N, after CUDA_VISIBLE_DEVICES; default 0)
  --every N          log GPU statistics every N steps (default 1)
  --flops-per-step F the model FLOPs of one step: logs throughput (TFLOP/s)
                     and MFU (%) against the GPUs' dense BF16 peak
  --energy           log each step's energy (J) and the run's total from the
                     GPUs' energy counters
  --simulate         simulated GPUs instead of the driver (as NVITOP_SIMULATE=1)
  -h, --help         print this help
";

struct Args {
    run_dir: PathBuf,
    every: u64,
    simulate: bool,
    epochs: u64,
    steps: u64,
    step_ms: u64,
    validation_ms: u64,
    gpus: Vec<u32>,
    flops_per_step: Option<f64>,
    energy: bool,
}

/// What the command line asks for: a run, or the help text.
enum Parsed {
    Run(Args),
    Help,
}

fn parse_args() -> Result<Parsed, String> {
    let mut name = None;
    let mut logdir = default_log_parent();
    let (mut epochs, mut steps, mut step_ms, mut gpus) = (3, 50, 2, vec![0]);
    let (mut every, mut simulate, mut validation_ms) = (1, false, 0);
    let mut flops_per_step = None;
    let mut energy = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{flag}: '{v}' is not a number"));
        match flag.as_str() {
            "--name" => name = Some(value()?),
            "--logdir" => logdir = PathBuf::from(value()?),
            "--epochs" => epochs = number(value()?)?,
            "--steps" => steps = number(value()?)?,
            "--step-ms" => step_ms = number(value()?)?,
            "--validation-ms" => validation_ms = number(value()?)?,
            "--every" => every = number(value()?)?,
            "--simulate" => simulate = true,
            "--energy" => energy = true,
            "--flops-per-step" => {
                let v = value()?;
                let flops = v
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f > 0.0)
                    .ok_or_else(|| format!("--flops-per-step: '{v}' is not a positive number"))?;
                flops_per_step = Some(flops);
            }
            "-h" | "--help" => return Ok(Parsed::Help),
            "--gpus" => {
                gpus = value()?
                    .split(',')
                    .map(|g| {
                        g.trim()
                            .parse::<u32>()
                            .map_err(|_| format!("--gpus: '{g}' is not a GPU index"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            other => {
                return Err(format!("unknown option '{other}' (--help lists the options)"));
            }
        }
    }
    let run_dir = name.map_or_else(|| default_run_dir(&logdir), |n| logdir.join(n));
    Ok(Parsed::Run(Args {
        run_dir,
        every,
        simulate,
        epochs,
        steps,
        step_ms,
        validation_ms,
        gpus,
        flops_per_step,
        energy,
    }))
}

/// y = sin(x) + noise, from a small deterministic generator.
struct Data {
    state: u64,
}

impl Data {
    fn next(&mut self) -> f64 {
        // xorshift64*: reproducible without a dependency.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn batch(&mut self, n: usize) -> Vec<(f64, f64)> {
        (0..n)
            .map(|_| {
                let x = self.next() * 6.0 - 3.0;
                (x, x.sin() + (self.next() - 0.5) * 0.1)
            })
            .collect()
    }
}

/// One hidden layer of tanh units.
struct Mlp {
    w1: Vec<f64>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: f64,
}

impl Mlp {
    fn new(hidden: usize, data: &mut Data) -> Self {
        Self {
            w1: (0..hidden).map(|_| data.next() * 2.0 - 1.0).collect(),
            b1: (0..hidden).map(|_| data.next() - 0.5).collect(),
            w2: (0..hidden).map(|_| (data.next() - 0.5) * 0.5).collect(),
            b2: 0.0,
        }
    }

    /// One SGD step on a batch; returns the mean squared error before the step.
    fn train_step(&mut self, batch: &[(f64, f64)], lr: f64) -> f64 {
        let n = batch.len() as f64;
        let hidden = self.w1.len();
        let (mut g_w1, mut g_b1, mut g_w2, mut g_b2) = (vec![0.0; hidden], vec![0.0; hidden], vec![0.0; hidden], 0.0);
        let mut loss = 0.0;
        for &(x, y) in batch {
            let h: Vec<f64> = (0..hidden).map(|j| (self.w1[j] * x + self.b1[j]).tanh()).collect();
            let out: f64 = self.b2 + h.iter().zip(&self.w2).map(|(h, w)| h * w).sum::<f64>();
            let err = out - y;
            loss += err * err / n;
            let d_out = 2.0 * err / n;
            g_b2 += d_out;
            for j in 0..hidden {
                g_w2[j] += d_out * h[j];
                let d_h = d_out * self.w2[j] * (1.0 - h[j] * h[j]);
                g_w1[j] += d_h * x;
                g_b1[j] += d_h;
            }
        }
        for j in 0..hidden {
            self.w1[j] -= lr * g_w1[j];
            self.b1[j] -= lr * g_b1[j];
            self.w2[j] -= lr * g_w2[j];
        }
        self.b2 -= lr * g_b2;
        loss
    }
}

/// Prints one progress line. A reader that went away (`| head`) is not a
/// reason to stop training, whose results go to the run directory: the
/// line is dropped instead of `println!`'s panic on the closed pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            say!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Set by the first SIGINT or SIGTERM: the loop ends the run after the
/// current step; a second one exits at once (status 1).
fn stop_on_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Not fatal: without the handler the signal ends the program as usual.
        let registered = signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)));
        if let Err(err) = registered {
            eprintln!("note: signal {signal} ends the program at once: {err}");
        }
    }
    stop
}

fn run(args: &Args) -> nvitop::Result<()> {
    let stop = stop_on_signals();
    if args.simulate {
        nvitop::set_default_backend(Arc::new(SimBackend::default_machine()))?;
    }
    let mut builder = GpuStatsLogger::builder(&args.gpus);
    if let Some(flops) = args.flops_per_step {
        builder = builder.model_flops_per_step(flops);
    }
    let logger = builder
        .tensorboard(&args.run_dir)
        .csv(args.run_dir.join("gpu_stats.csv"))
        .scalars(&["train/loss"])
        .log_every_n_steps(args.every)
        .interval(Duration::from_millis(100))
        .intra_step_time(true)
        .inter_step_time(true)
        .temperature(true)
        .power(true)
        .process_memory(true)
        .process_host(true)
        .epoch_time(true)
        .energy(args.energy)
        .build()?;
    say!(
        "Logging GPU statistics of CUDA device(s) {:?} and the loss to {}",
        args.gpus,
        args.run_dir.display()
    );
    for warning in logger.warnings() {
        say!("note: {warning}");
    }
    say!(
        "View them with:  tensorboard --logdir {}",
        args.run_dir.parent().unwrap_or(&args.run_dir).display()
    );

    let csv = logger.csv_path().map(std::path::Path::to_path_buf);
    let mut data = Data {
        state: 0x9e37_79b9_7f4a_7c15,
    };
    let mut model = Mlp::new(32, &mut data);
    let mut global_step = 0;
    logger.on_train_start();
    'epochs: for epoch in 0..args.epochs {
        logger.on_train_epoch_start(epoch);
        let mut epoch_loss = 0.0;
        for _ in 0..args.steps {
            if stop.load(Ordering::Relaxed) {
                say!("interrupted at step {global_step}: ending the run");
                break 'epochs;
            }
            let step = logger.step(global_step);
            let batch = data.batch(64);
            let loss = model.train_step(&batch, 0.05);
            std::thread::sleep(Duration::from_millis(args.step_ms));
            drop(step);
            // Next to the GPU curves, in the same run (no I/O here either).
            logger.log_scalar("train/loss", loss, global_step);
            epoch_loss += loss;
            global_step += 1;
        }
        logger.on_train_epoch_end(epoch);
        logger.on_validation_start();
        let validation = data.batch(256);
        let mse: f64 = validation
            .iter()
            .map(|&(x, y)| {
                let h = model.w1.iter().zip(&model.b1).map(|(w, b)| (w * x + b).tanh());
                let out = model.b2 + h.zip(&model.w2).map(|(h, w)| h * w).sum::<f64>();
                (out - y).powi(2)
            })
            .sum::<f64>()
            / validation.len() as f64;
        std::thread::sleep(Duration::from_millis(args.validation_ms));
        logger.on_validation_end();
        logger.log_scalar("validation/mse", mse, global_step);
        say!(
            "epoch {epoch}: train loss {:.4}, validation mse {mse:.4}",
            epoch_loss / args.steps as f64
        );
    }
    logger.on_train_end();
    let report = logger.close();
    say!("GPU stats: {report}");
    for (gpu, millijoules) in &report.energy_mj {
        say!("{gpu}: {:.1} J over the run", *millijoules as f64 / 1000.0);
    }
    if let Some(csv) = csv {
        say!("CSV written to {}", csv.display());
    }
    Ok(())
}
