//! The interactive viewer's state: plain data, changed only by
//! [`AppState::apply`] with an [`Action`]. The rows an action works on
//! (the shown processes, in order) come in with it, so every key can be
//! tested without a terminal or a driver.

use crate::cli::LayoutMode;
use crate::live::history::GraphMetric;
use crate::live::rows::{ProcessKey, SortKey};

/// A signal the viewer can send, as the dialog offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// `T`.
    Term,
    /// `K`, `k`.
    Kill,
    /// `I`, Ctrl-C.
    Int,
}

impl SignalKind {
    /// The dialog's choices, in order; the fourth is Cancel.
    pub const ALL: [Self; 3] = [Self::Term, Self::Kill, Self::Int];

    /// `SIGTERM`, `SIGKILL`, `SIGINT`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Term => "SIGTERM",
            Self::Kill => "SIGKILL",
            Self::Int => "SIGINT",
        }
    }

    /// The signal number.
    pub fn number(self) -> i32 {
        match self {
            Self::Term => libc::SIGTERM,
            Self::Kill => libc::SIGKILL,
            Self::Int => libc::SIGINT,
        }
    }
}

/// The confirmation dialog: which choice is highlighted (0-2 a signal of
/// [`SignalKind::ALL`], 3 Cancel) and whom it would signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// The highlighted choice.
    pub choice: usize,
    /// The processes to signal.
    pub targets: Vec<ProcessKey>,
}

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// Devices, host and processes.
    #[default]
    Main,
    /// Every key.
    Help,
    /// The selected process's metrics and live graphs (Enter).
    Process,
    /// The process tree around the GPU processes (`t`).
    Tree,
    /// A process's environment (`e`).
    Environment,
}

/// The graph time spans `w` walks, seconds.
pub const GRAPH_WINDOWS: [u64; 6] = [30, 60, 120, 300, 900, 3600];

/// The default time span of the graphs, seconds.
pub const DEFAULT_GRAPH_WINDOW: u64 = 120;

/// What the environment screen shows: whose, and the variables or why
/// they could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentView {
    /// `process 1234 (python)` or `nvitop-monitor (this process)`.
    pub title: String,
    /// Whose environment: `None` for the monitor's own.
    pub target: Option<ProcessKey>,
    /// `NAME=value` lines, sorted; or why they could not be read.
    pub lines: Result<Vec<String>, String>,
    /// First line shown.
    pub scroll_y: usize,
    /// Columns skipped at the start of each line.
    pub scroll_x: usize,
}

/// The dialog's number of choices (three signals and Cancel).
pub const DIALOG_CHOICES: usize = 4;

/// Something the viewer can be asked to do. Keys map to actions in
/// [`crate::live::keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the viewer.
    Quit,
    /// Show this screen.
    Show(Screen),
    /// Switch the layout.
    Layout(LayoutMode),
    /// Collect now instead of at the next tick.
    Refresh,
    /// Selection up / down (with nothing selected: last / first row).
    Up,
    /// See [`Action::Up`].
    Down,
    /// Select the first row.
    First,
    /// Select the last row.
    Last,
    /// A page up (the selection, or the view when nothing is selected).
    PageUp,
    /// A page down.
    PageDown,
    /// Clear the selection and the tags.
    Clear,
    /// Tag (or untag) the selected row and move down.
    Tag,
    /// Scroll the COMMAND column.
    CommandLeft,
    /// See [`Action::CommandLeft`].
    CommandRight,
    /// Show the start of the commands.
    CommandStart,
    /// Show the end of the longest command.
    CommandEnd,
    /// The previous / next sort column.
    SortPrevious,
    /// See [`Action::SortPrevious`].
    SortNext,
    /// Reverse the sort order.
    SortReverse,
    /// `o`: the next key names the sort column.
    SortPrefix,
    /// Sort by this column, its natural order or reversed.
    SortBy(SortKey, bool),
    /// Forget a pending `o`.
    SortCancel,
    /// Open the filter prompt.
    FilterOpen,
    /// Type into the filter prompt.
    FilterChar(char),
    /// Delete the prompt's last character.
    FilterBackspace,
    /// Keep the typed filter and close the prompt.
    FilterAccept,
    /// Clear the filter and close the prompt.
    FilterCancel,
    /// Ask to send a signal: opens the dialog (or says why not).
    Signal(SignalKind),
    /// Move the dialog's highlight left / right.
    DialogMove(isize),
    /// Highlight this choice.
    DialogChoose(usize),
    /// Do the highlighted choice.
    DialogApply,
    /// Close the dialog, sending nothing.
    DialogCancel,
    /// Enter: the selected process's metrics screen.
    OpenProcess,
    /// `t`: the tree view (or back from it).
    ToggleTree,
    /// `e`: the environment of the selected process, or the monitor's.
    OpenEnvironment,
    /// `r` on the environment screen: read it again.
    RereadEnvironment,
    /// Scroll the environment screen by (columns, lines).
    ScrollEnvironment(isize, isize),
    /// Back to the main screen from any other.
    Back,
    /// `g`: the device graph's next metric pair.
    GraphNext,
    /// `w`: the graphs' next time span.
    GraphWindow,
    /// Scroll the help screen by this many lines.
    ScrollHelp(isize),
    /// A click: select this row of the shown ones (`None`: clear the
    /// selection).
    SelectRow(Option<usize>),
    /// A click on a dialog choice: highlight and do it.
    DialogClick(usize),
}

/// What the loop must do after an action, beyond redrawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing more.
    None,
    /// Leave the viewer.
    Quit,
    /// Ask the collector for a snapshot now.
    Refresh,
    /// Send this signal to these processes.
    Send(SignalKind, Vec<ProcessKey>),
    /// The collector must (or need no longer) read what the screen shows:
    /// PCIe throughput for the device graph, the process tree.
    Reads,
    /// Read this process's environment (`None`: the monitor's own).
    ReadEnvironment(Option<ProcessKey>),
}

/// What an action sees of the screen: the shown rows and the page size.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The shown processes, in display order.
    pub rows: &'a [ProcessKey],
    /// Process rows that fit in the panel.
    pub page: usize,
}

/// The layout facts of the last frame that the state must fit into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Viewport {
    /// Body lines that fit in the process panel.
    pub visible: usize,
    /// Body lines in all.
    pub total: usize,
    /// The selected row's body line.
    pub selected_line: Option<usize>,
    /// How far the commands can scroll left.
    pub command_overflow: usize,
}

/// How far `←`/`→` scroll the COMMAND column.
pub const COMMAND_STEP: usize = 4;

/// The viewer's whole state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppState {
    /// The screen shown.
    pub screen: Screen,
    /// The layout asked for.
    pub layout: LayoutMode,
    /// The selected process.
    pub selected: Option<ProcessKey>,
    /// Tagged processes.
    pub tagged: Vec<ProcessKey>,
    /// The sort column and whether it is reversed from its natural order.
    pub sort: SortKey,
    /// See [`AppState::sort`].
    pub reversed: bool,
    /// `o` was pressed: the next key names the sort column.
    pub sort_pending: bool,
    /// The kept filter (substring of command, user or pid).
    pub filter: String,
    /// The filter prompt's text while it is open.
    pub prompt: Option<String>,
    /// The first process-panel body line shown.
    pub scroll: usize,
    /// Display columns skipped at the start of each command.
    pub command_offset: usize,
    /// The signal dialog, when open.
    pub dialog: Option<Dialog>,
    /// The status line (the outcome of the last signal, for one).
    pub status: Option<String>,
    /// `--readonly`: no signal is ever sent.
    pub readonly: bool,
    /// The device graph's metric pair.
    pub graph: GraphMetric,
    /// The graphs' time span, seconds.
    pub graph_window: u64,
    /// The environment screen's content.
    pub environment: Option<EnvironmentView>,
    /// The first help line shown (the help is longer than a small
    /// terminal).
    pub help_scroll: usize,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            screen: Screen::Main,
            layout: LayoutMode::Auto,
            selected: None,
            tagged: Vec::new(),
            sort: SortKey::Gpu,
            reversed: false,
            sort_pending: false,
            filter: String::new(),
            prompt: None,
            scroll: 0,
            command_offset: 0,
            dialog: None,
            status: None,
            readonly: false,
            graph: GraphMetric::MemoryUtilization,
            graph_window: DEFAULT_GRAPH_WINDOW,
            environment: None,
            help_scroll: 0,
        }
    }
}

impl AppState {
    /// A fresh state in `layout`.
    pub fn new(layout: LayoutMode, readonly: bool) -> Self {
        Self {
            layout,
            readonly,
            ..Self::default()
        }
    }

    /// What the collector must read beyond the main screen: PCIe
    /// throughput (the device graph shows it), the process tree (the tree
    /// view is open), the series of one process (its metrics screen is
    /// open).
    pub fn reads(&self) -> (bool, bool, Option<ProcessKey>) {
        let watch = self.selected.clone().filter(|_| self.screen == Screen::Process);
        (self.graph.needs_pcie(), self.screen == Screen::Tree, watch)
    }

    /// The filter in effect: the prompt's text while it is open.
    pub fn active_filter(&self) -> &str {
        self.prompt.as_deref().unwrap_or(&self.filter)
    }

    /// Applies `action` to the state; returns what else the loop must do.
    pub fn apply(&mut self, action: Action, cx: Context<'_>) -> Effect {
        use Action as A;
        if !matches!(action, A::SortPrefix) {
            self.sort_pending = false;
        }
        match action {
            A::Quit => return Effect::Quit,
            A::Show(screen) => {
                self.help_scroll = 0;
                self.screen = screen;
            }
            A::SelectRow(row) => self.selected = row.and_then(|r| cx.rows.get(r).cloned()),
            A::DialogClick(choice) => {
                if let Some(dialog) = self.dialog.take()
                    && let Some(&kind) = SignalKind::ALL.get(choice)
                {
                    return Effect::Send(kind, dialog.targets);
                }
            }
            A::ScrollHelp(by) => self.help_scroll = self.help_scroll.saturating_add_signed(by),
            A::Layout(layout) => self.layout = layout,
            A::Refresh => return Effect::Refresh,
            A::Up => self.step(cx.rows, -1),
            A::Down => self.step(cx.rows, 1),
            A::First => self.selected = cx.rows.first().cloned(),
            A::Last => self.selected = cx.rows.last().cloned(),
            A::PageUp | A::PageDown => {
                let page = cx.page.max(1);
                let up = action == A::PageUp;
                if self.selected.is_some() {
                    self.step(cx.rows, if up { -as_isize(page) } else { as_isize(page) });
                } else if up {
                    self.scroll = self.scroll.saturating_sub(page);
                } else {
                    self.scroll = self.scroll.saturating_add(page);
                }
            }
            A::Clear => {
                self.selected = None;
                self.tagged.clear();
            }
            A::Tag => {
                if let Some(key) = self.selected.clone() {
                    if let Some(at) = self.tagged.iter().position(|k| *k == key) {
                        self.tagged.remove(at);
                    } else {
                        self.tagged.push(key);
                    }
                }
                self.step(cx.rows, 1);
            }
            A::CommandLeft => self.command_offset = self.command_offset.saturating_sub(COMMAND_STEP),
            A::CommandRight => self.command_offset = self.command_offset.saturating_add(COMMAND_STEP),
            A::CommandStart => self.command_offset = 0,
            A::CommandEnd => self.command_offset = usize::MAX,
            A::SortPrevious | A::SortNext => {
                self.sort = self.sort.cycle(action == A::SortNext);
                self.reversed = false;
            }
            A::SortReverse => self.reversed = !self.reversed,
            A::SortPrefix => self.sort_pending = true,
            A::SortBy(key, reversed) => {
                self.sort = key;
                self.reversed = reversed;
            }
            A::SortCancel => {}
            A::FilterOpen => self.prompt = Some(self.filter.clone()),
            A::FilterChar(c) => self.prompt.get_or_insert_with(String::new).push(c),
            A::FilterBackspace => {
                if let Some(prompt) = &mut self.prompt {
                    prompt.pop();
                }
            }
            A::FilterAccept => self.filter = self.prompt.take().unwrap_or_default(),
            A::FilterCancel => {
                self.prompt = None;
                self.filter.clear();
            }
            A::Signal(kind) => self.open_dialog(kind),
            A::DialogMove(by) => {
                if let Some(dialog) = &mut self.dialog {
                    dialog.choice = (dialog.choice + DIALOG_CHOICES).saturating_add_signed(by) % DIALOG_CHOICES;
                }
            }
            A::DialogChoose(choice) => {
                if let Some(dialog) = &mut self.dialog {
                    dialog.choice = choice.min(DIALOG_CHOICES - 1);
                }
            }
            A::DialogApply => {
                if let Some(dialog) = self.dialog.take()
                    && let Some(&kind) = SignalKind::ALL.get(dialog.choice)
                {
                    return Effect::Send(kind, dialog.targets);
                }
            }
            A::DialogCancel => self.dialog = None,
            A::OpenProcess => {
                if self.selected.is_some() {
                    self.screen = Screen::Process;
                    return Effect::Reads;
                }
            }
            A::ToggleTree => {
                // Tree rows and main rows are other lists: a selection or
                // tag of one means nothing in the other.
                self.selected = None;
                self.tagged.clear();
                self.scroll = 0;
                self.screen = if self.screen == Screen::Tree {
                    Screen::Main
                } else {
                    Screen::Tree
                };
                return Effect::Reads;
            }
            A::OpenEnvironment => {
                self.screen = Screen::Environment;
                return Effect::ReadEnvironment(self.selected.clone());
            }
            A::RereadEnvironment => {
                let target = self.environment.as_ref().and_then(|e| e.target.clone());
                return Effect::ReadEnvironment(target);
            }
            A::ScrollEnvironment(dx, dy) => {
                if let Some(env) = &mut self.environment {
                    env.scroll_x = env.scroll_x.saturating_add_signed(dx);
                    env.scroll_y = env.scroll_y.saturating_add_signed(dy);
                    let lines = env.lines.as_ref().map_or(0, Vec::len);
                    env.scroll_y = env.scroll_y.min(lines.saturating_sub(1));
                }
            }
            A::Back => {
                let from = self.screen;
                self.screen = Screen::Main;
                if from == Screen::Tree {
                    self.selected = None;
                    self.tagged.clear();
                    self.scroll = 0;
                }
                if matches!(from, Screen::Tree | Screen::Process) {
                    return Effect::Reads;
                }
            }
            A::GraphNext => {
                self.graph = self.graph.next();
                return Effect::Reads;
            }
            A::GraphWindow => {
                let at = GRAPH_WINDOWS.iter().position(|&w| w > self.graph_window).unwrap_or(0);
                self.graph_window = GRAPH_WINDOWS[at];
            }
        }
        Effect::None
    }

    /// Moves the selection `by` rows, clamped to the list; with nothing
    /// selected (or the selection gone), down selects the first row and up
    /// the last.
    fn step(&mut self, rows: &[ProcessKey], by: isize) {
        let at = self
            .selected
            .as_ref()
            .and_then(|key| rows.iter().position(|k| k == key));
        let next = match at {
            Some(at) => at.saturating_add_signed(by).min(rows.len().saturating_sub(1)),
            None if by > 0 => 0,
            None => rows.len().saturating_sub(1),
        };
        self.selected = rows.get(next).cloned();
    }

    fn open_dialog(&mut self, kind: SignalKind) {
        if self.readonly {
            self.status = Some("read-only mode (--readonly): no signal is sent".to_owned());
            return;
        }
        let targets = if self.tagged.is_empty() {
            self.selected.iter().cloned().collect()
        } else {
            self.tagged.clone()
        };
        if targets.is_empty() {
            self.status = Some("no process selected: Up/Down select one, Space tags several".to_owned());
            return;
        }
        let choice = SignalKind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
        self.dialog = Some(Dialog { choice, targets });
    }

    /// After a new snapshot: drops the selection and tags of processes no
    /// longer shown (exited, or filtered out).
    pub fn reconcile(&mut self, rows: &[ProcessKey]) {
        if self.selected.as_ref().is_some_and(|key| !rows.contains(key)) {
            self.selected = None;
        }
        self.tagged.retain(|key| rows.contains(key));
    }

    /// Keeps the selection in view and the scroll offsets in range.
    pub fn fit(&mut self, view: Viewport) {
        let visible = view.visible.max(1);
        if let Some(line) = view.selected_line {
            if line < self.scroll {
                self.scroll = line;
            } else if line >= self.scroll + visible {
                self.scroll = line + 1 - visible;
            }
        }
        self.scroll = self.scroll.min(view.total.saturating_sub(view.visible));
        self.command_offset = self.command_offset.min(view.command_overflow);
    }
}

fn as_isize(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}
