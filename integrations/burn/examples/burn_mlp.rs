//! A burn `Learner` training with GPU statistics as burn metrics, and
//! nvitop's TensorBoard / CSV output next to burn's own metric logs.
//!
//! A small MLP fits a synthetic regression (8 features, a linear part plus a
//! sine) on the CPU with burn's flex backend (pure Rust; burn 0.22 deprecates ndarray). The GPU statistics come from
//! the nvitop sampler: on a machine without GPUs, run it on the simulator:
//!
//! ```text
//! NVITOP_SIMULATE=1 cargo run -p nvitop-burn --example burn_mlp -- --epochs 3 --logdir runs/burn-demo
//! tensorboard --logdir runs/burn-demo
//! ```
//!
//! Options: `--epochs N` (default 3), `--logdir DIR` (default
//! `runs/<Mon>DD_HH-MM-SS_<host>`), `--cuda N` (the CUDA device whose
//! statistics are shown, default 0), `--inline-panel` (the GPUs' bars, the
//! step rate and the ETA in the last lines of the terminal, burn's progress
//! lines scrolling above them; off when stdout is not a terminal).
//!
//! What lands in DIR: burn's metric logs (`train/epoch-1/Loss.log`,
//! `train/epoch-1/GPU_0_Utilization.log`, `valid/...`), and nvitop's
//! `nvitop/events.out.tfevents.*` and `nvitop/gpu.csv`. Without a driver
//! (and without `NVITOP_SIMULATE`), the GPU metrics say N/A, nothing is
//! written to nvitop/, and training goes on.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::lr_scheduler::constant::ConstantLr;
use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::AdamConfig;
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{LossMetric, MetricDefinition, MetricId};
use burn::train::renderer::{
    CliMetricsRenderer, EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::{
    InferenceStep, Learner, LearnerSummary, RegressionOutput, SupervisedTraining, TrainOutput, TrainStep,
};
use nvitop::backend::Backend;
use nvitop::sink::{default_log_parent, default_run_dir};
use nvitop::{GpuStatsLogger, LogReport};
use nvitop_burn::{GpuStatistic, GpuStatsConfig, GpuStatsExt};
use nvitop_monitor::inline_panel::{PanelOptions, StdoutPanel};

const FEATURES: usize = 8;
const TRAIN_ITEMS: usize = 512;
const TRAIN_BATCH: usize = 32;

/// What to train and where to log.
pub struct Options {
    /// Epochs.
    pub epochs: usize,
    /// Run folder.
    pub logdir: PathBuf,
    /// CUDA ordinal whose statistics are shown.
    pub cuda: u32,
    /// Backend for nvitop; `None` is the default one (NVML, or the simulator
    /// under `NVITOP_SIMULATE`).
    pub backend: Option<Arc<dyn Backend>>,
    /// The inline panel at the bottom of the terminal (when stdout is one).
    pub inline_panel: bool,
}

/// What a run did.
pub struct Outcome {
    /// Whether the GPU statistics were available.
    pub gpu_stats: bool,
    /// The nvitop logger's report, `None` without a GPU.
    pub report: Option<LogReport>,
}

/// One example: features and target.
#[derive(Debug, Clone)]
pub struct Item {
    x: [f32; FEATURES],
    y: f32,
}

/// A batch on the training device.
#[derive(Debug, Clone)]
pub struct Batch {
    x: Tensor<2>,
    y: Tensor<2>,
}

struct RegressionBatcher;

impl Batcher<Item, Batch> for RegressionBatcher {
    fn batch(&self, items: Vec<Item>, device: &Device) -> Batch {
        let n = items.len();
        let x: Vec<f32> = items.iter().flat_map(|item| item.x).collect();
        let y: Vec<f32> = items.iter().map(|item| item.y).collect();
        Batch {
            x: Tensor::from_floats(TensorData::new(x, [n, FEATURES]), device),
            y: Tensor::from_floats(TensorData::new(y, [n, 1]), device),
        }
    }
}

/// y = w·x + sin(3 x₀), x uniform in [-1, 1], from a fixed-seed generator.
fn dataset(count: usize, seed: u64) -> Vec<Item> {
    let mut state = seed;
    let mut uniform = move || {
        // xorshift64*: deterministic and good enough for toy data.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
        (bits as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let weights = [0.5_f32, -1.0, 0.25, 0.8, -0.3, 0.0, 1.2, -0.7];
    (0..count)
        .map(|_| {
            let x: [f32; FEATURES] = std::array::from_fn(|_| uniform());
            let y = x.iter().zip(weights).map(|(a, w)| a * w).sum::<f32>() + (3.0 * x[0]).sin();
            Item { x, y }
        })
        .collect()
}

/// The model: 8 → 32 → 1.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Linear,
    out: Linear,
    activation: Relu,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(FEATURES, 32).init(device),
            out: LinearConfig::new(32, 1).init(device),
            activation: Relu::new(),
        }
    }

    fn regression(&self, batch: Batch) -> RegressionOutput {
        let output = self.out.forward(self.activation.forward(self.hidden.forward(batch.x)));
        let loss = MseLoss::new().forward(output.clone(), batch.y.clone(), Reduction::Mean);
        RegressionOutput::new(loss, output, batch.y)
    }
}

impl TrainStep for Mlp {
    type Input = Batch;
    type Output = RegressionOutput;

    fn step(&self, batch: Batch) -> TrainOutput<RegressionOutput> {
        let item = self.regression(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for Mlp {
    type Input = Batch;
    type Output = RegressionOutput;

    fn step(&self, batch: Batch) -> RegressionOutput {
        self.regression(batch)
    }
}

/// burn's progress through the inline panel: the panel's step follows the
/// training batches, and a line per split (with its loss) goes above the
/// panel. (burn's `CliMetricsRenderer` prints straight to stdout, a line
/// per batch, which would tear the panel.)
struct PanelRenderer {
    panel: Arc<StdoutPanel>,
    /// Metric names by id, from `register_metric`.
    names: HashMap<MetricId, String>,
    /// The split's latest value of each numeric metric (the GPU ones
    /// excepted: the panel shows the GPUs).
    latest: BTreeMap<String, f64>,
    split: String,
    epoch: usize,
    batches: usize,
    steps: u64,
}

impl PanelRenderer {
    fn new(panel: Arc<StdoutPanel>) -> Self {
        Self {
            panel,
            names: HashMap::new(),
            latest: BTreeMap::new(),
            split: String::new(),
            epoch: 1,
            batches: 0,
            steps: 0,
        }
    }

    /// A line above the panel; a terminal that cannot be written to is no
    /// reason to stop training.
    fn say(&self, text: &str) {
        let _ = self.panel.println(text);
    }

    fn record(&mut self, state: MetricState) {
        if let MetricState::Numeric(entry, Some(value)) = state
            && let Some(name) = self.names.get(&entry.metric_id)
            && !name.starts_with("GPU ")
        {
            self.latest.insert(name.clone(), value.current());
        }
    }
}

impl MetricsRendererTraining for PanelRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state);
    }

    fn on_train_end(&mut self, summary: Option<LearnerSummary>) -> Result<(), Box<dyn std::error::Error>> {
        if let Some(summary) = summary {
            self.say(&summary.to_string());
        }
        Ok(())
    }
}

impl TrainingProgressLogger for PanelRenderer {
    fn start(&mut self, total_epochs: usize, starting_epoch: usize, _items: Option<usize>, _label: Option<&str>) {
        self.epoch = starting_epoch.max(1);
        self.say(&format!("Training for {total_epochs} epochs."));
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, _total_items: usize) {
        split.clone_into(&mut self.split);
        self.batches = 0;
        self.latest.clear();
    }

    fn update_split(&mut self, _items_processed: usize) {
        self.batches += 1;
        if self.split == "train" {
            self.steps += 1;
            self.panel.set_step(self.steps);
        }
    }

    fn end_split(&mut self) {
        let mut metrics = String::new();
        for (name, value) in &self.latest {
            let _ = write!(metrics, ", {name} {value:.4}");
        }
        self.say(&format!(
            "epoch {} {}: {} batches{metrics}",
            self.epoch, self.split, self.batches
        ));
    }

    fn end(&mut self) {
        self.say("Training ended.");
    }

    fn log_event_training(&mut self, _event: String) {}
}

/// The example evaluates nothing: burn's evaluation events are not shown.
impl EvaluationProgressLogger for PanelRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for PanelRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl MetricsRenderer for PanelRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name.to_string());
    }
}

/// Trains for `options.epochs` epochs through burn's `Learner`.
pub fn train(options: &Options) -> Result<Outcome, Box<dyn std::error::Error>> {
    let device = Device::flex().autodiff();
    device.seed(7);

    // nvitop's logger writes TensorBoard and CSV; its sampler also feeds the
    // burn metrics, so the driver is read by one thread only.
    let mut builder = GpuStatsLogger::builder_for_cuda_devices(&[options.cuda])
        .tensorboard(options.logdir.join("nvitop"))
        .csv(options.logdir.join("nvitop").join("gpu.csv"))
        .interval(Duration::from_millis(100))
        .temperature(true)
        .power(true)
        .epoch_time(true);
    if let Some(backend) = &options.backend {
        builder = builder.backend(Arc::clone(backend));
    }
    let logger = match builder.build() {
        Ok(logger) => Some(Arc::new(logger)),
        Err(err) => {
            eprintln!("burn_mlp: no GPU statistics ({err}); training goes on");
            None
        }
    };
    let mut config = GpuStatsConfig::new().cuda_devices(&[options.cuda]).statistics(&[
        GpuStatistic::GpuUtilization,
        GpuStatistic::MemoryUsed,
        GpuStatistic::Temperature,
        GpuStatistic::PowerDraw,
    ]);
    if let Some(backend) = &options.backend {
        config = config.backend(Arc::clone(backend));
    }
    if let Some(logger) = &logger {
        config = config.sampler(Arc::clone(logger.sampler()));
    }
    let stats = config.build();

    // The panel reads the GPUs the logger (or the metrics) watch, on its
    // own thread; `None` without a terminal on stdout.
    let panel = if options.inline_panel {
        let devices = stats.sampler().map(|s| s.devices().to_vec()).unwrap_or_default();
        let panel_options = PanelOptions {
            total_steps: Some((options.epochs * TRAIN_ITEMS.div_ceil(TRAIN_BATCH)) as u64),
            ..PanelOptions::default()
        };
        StdoutPanel::stdout(devices, panel_options)?.map(Arc::new)
    } else {
        None
    };
    let renderer: Box<dyn MetricsRenderer> = match &panel {
        Some(panel) => Box::new(PanelRenderer::new(Arc::clone(panel))),
        None => Box::new(CliMetricsRenderer::new()),
    };

    let train = DataLoaderBuilder::new(RegressionBatcher)
        .batch_size(TRAIN_BATCH)
        .shuffle(1)
        .build(InMemDataset::new(dataset(TRAIN_ITEMS, 1)));
    let valid = DataLoaderBuilder::new(RegressionBatcher)
        .batch_size(64)
        .build(InMemDataset::new(dataset(128, 2)));

    let mut training = SupervisedTraining::new(&options.logdir, train, valid)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .with_gpu_stats_from(&stats)
        .renderer(renderer)
        .with_application_logger(None)
        .num_epochs(options.epochs);
    if let Some(logger) = &logger {
        training = training.with_gpu_stats_logger(&options.logdir, Arc::clone(logger));
    }
    let learner = Learner::new(Mlp::new(&device), AdamConfig::new().init(), ConstantLr::new(1e-2));
    let result = training.launch(learner);
    // burn hands the renderer back; dropping it lets the panel go.
    drop(result.renderer);
    if let Some(panel) = panel {
        match Arc::try_unwrap(panel) {
            Ok(panel) => panel.finish()?,
            // Still shared: dropping it ends it the same way.
            Err(shared) => drop(shared),
        }
    }
    if let Some(error) = result.error {
        return Err(format!("training failed: {error}").into());
    }

    let report = logger.map(|logger| {
        logger.on_train_end();
        // burn drops its metric loggers when training ends; if it still
        // holds ours, flush instead of closing.
        match Arc::try_unwrap(logger) {
            Ok(logger) => logger.close(),
            Err(shared) => shared.flush(),
        }
    });
    Ok(Outcome {
        gpu_stats: stats.is_available(),
        report,
    })
}

fn parse_args() -> Result<Options, String> {
    let mut epochs = 3;
    let mut cuda = 0;
    let mut logdir = None;
    let mut inline_panel = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--epochs" => epochs = value()?.parse().map_err(|_| "--epochs needs a number".to_owned())?,
            "--cuda" => cuda = value()?.parse().map_err(|_| "--cuda needs a CUDA ordinal".to_owned())?,
            "--logdir" => logdir = Some(PathBuf::from(value()?)),
            "--inline-panel" => inline_panel = true,
            "-h" | "--help" => {
                print!(
                    "A burn Learner training with GPU statistics as burn metrics and in nvitop's TensorBoard/CSV.\n\n\
                     Usage: burn_mlp [OPTIONS]\n\n\
                     Options:\n  \
                     --epochs N     epochs (default 3)\n  \
                     --logdir DIR   output folder (default runs/<Mon>DD_HH-MM-SS_<host>)\n  \
                     --cuda N       the CUDA device whose statistics are shown (default 0)\n  \
                     --inline-panel the GPUs, step rate and ETA at the bottom of the terminal\n                 \
                     (off when stdout is not a terminal)\n  \
                     -h, --help     print this help\n"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown option '{other}' (--help lists the options)")),
        }
    }
    Ok(Options {
        epochs,
        logdir: logdir.unwrap_or_else(|| default_run_dir(&default_log_parent())),
        cuda,
        backend: None,
        inline_panel,
    })
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("burn_mlp: {message}");
            return ExitCode::from(2);
        }
    };
    match train(&options) {
        Ok(outcome) => {
            println!(
                "done: GPU statistics {}; logs in {}",
                if outcome.gpu_stats { "on" } else { "not available" },
                options.logdir.display()
            );
            match outcome.report {
                Some(report) if !report.is_clean() => {
                    eprintln!("burn_mlp: nvitop logger: {report:?}");
                    ExitCode::FAILURE
                }
                Some(report) => {
                    println!("nvitop logger: {} rows written", report.written);
                    ExitCode::SUCCESS
                }
                None => ExitCode::SUCCESS,
            }
        }
        Err(err) => {
            eprintln!("burn_mlp: {err}");
            ExitCode::FAILURE
        }
    }
}
