//! Per-window gauges of a service: busy workers and queue length, integrated exactly.

use sim_core::{SimDuration, SimTime};

use super::{MAX_WINDOWS, merge_pairs, windows_to};

/// How busy a service was in one window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauge {
    /// Worker-nanoseconds in use during the window (divide by the window for mean busy workers).
    pub busy_ns: u64,
    /// The longest the queue was during the window.
    pub queue_max: u32,
}

/// Per-window gauges of a service, integrated exactly between changes.
///
/// A change inside the window of the last one (nearly every change) touches one cache line:
/// the fields it reads and writes come first (`repr(C)`, aligned to a line), and the busy time
/// and queue maximum of that window are gathered here and added to its [`Gauge`] when a
/// later change or [`Gauges::finish`] leaves it.
#[derive(Clone, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct Gauges {
    last_change: SimTime,
    /// End of the window that holds `last_change`.
    current_end_ns: u64,
    /// Busy worker-nanoseconds of that window not yet in its [`Gauge`].
    open_busy_ns: u64,
    busy: u32,
    queue: u32,
    /// The longest queue of that window not yet in its [`Gauge`].
    open_queue_max: u32,
    /// Set by `finish`: the windows were coarsened for the run's end already.
    finishing: bool,
    pub windows: Vec<Gauge>,
    window_ns: u64,
}

impl Gauges {
    pub fn new(window: SimDuration) -> Self {
        Gauges {
            windows: Vec::new(),
            window_ns: window.as_nanos(),
            last_change: SimTime::ZERO,
            current_end_ns: 0,
            open_busy_ns: 0,
            busy: 0,
            queue: 0,
            open_queue_max: 0,
            finishing: false,
        }
    }

    pub fn window(&self) -> SimDuration {
        SimDuration(self.window_ns)
    }

    /// Accounts the current state from the last change up to `now`.
    #[inline]
    fn advance(&mut self, now: SimTime) {
        let end = now.as_nanos();
        let t = self.last_change.as_nanos();
        self.last_change = now;
        if end < self.current_end_ns {
            // The common case: still in the window of the last change, no division needed.
            self.open_busy_ns += u64::from(self.busy) * (end - t);
            return;
        }
        self.advance_across_windows(t, end);
    }

    /// Adds what was gathered of the window of the last change to its [`Gauge`].
    fn settle(&mut self) {
        if let Some(g) = self.windows.last_mut() {
            g.busy_ns += std::mem::take(&mut self.open_busy_ns);
            g.queue_max = g.queue_max.max(std::mem::take(&mut self.open_queue_max));
        }
        debug_assert!(self.open_busy_ns == 0 && self.open_queue_max == 0);
    }

    /// Accounts from `t` to `end`, opening windows; `end` is an instant inside the last one
    /// (during the run) or the exclusive end of the run (in `finish`, which coarsened first, so
    /// the window at `end` may be one past the bound: it is dropped).
    #[cold]
    fn advance_across_windows(&mut self, mut t: u64, end: u64) {
        self.settle();
        while (end / self.window_ns) as usize >= MAX_WINDOWS && !self.finishing {
            self.coarsen();
        }
        let last = (end / self.window_ns) as usize;
        if last >= self.windows.len() {
            self.windows.resize(last + 1, Gauge::default());
        }
        loop {
            let i = (t / self.window_ns) as usize;
            let window_end = (i as u64 + 1) * self.window_ns;
            let slice_end = window_end.min(end);
            let g = &mut self.windows[i];
            g.busy_ns += u64::from(self.busy) * (slice_end - t);
            g.queue_max = g.queue_max.max(self.queue);
            if slice_end >= end {
                break;
            }
            t = slice_end;
        }
        self.current_end_ns = (last as u64 + 1).saturating_mul(self.window_ns);
    }

    /// Halves the resolution: neighbouring windows merge (busy time adds up, the queue maximum
    /// is exact) and the window doubles.
    #[cold]
    fn coarsen(&mut self) {
        merge_pairs(&mut self.windows, |a: Gauge, b: Gauge| Gauge {
            busy_ns: a.busy_ns + b.busy_ns,
            queue_max: a.queue_max.max(b.queue_max),
        });
        self.window_ns = self.window_ns.saturating_mul(2);
        if !self.windows.is_empty() {
            let last = self.last_change.as_nanos() / self.window_ns;
            self.current_end_ns = (last + 1).saturating_mul(self.window_ns);
        }
    }

    /// The number of busy workers and the queue length changed at `now`.
    #[inline]
    pub fn set(&mut self, now: SimTime, busy: u32, queue: u32) {
        self.advance(now);
        self.busy = busy;
        self.queue = queue;
        self.open_queue_max = self.open_queue_max.max(queue);
    }

    /// Accounts up to the end of the run; windows at or after `end` are dropped.
    pub fn finish(&mut self, end: SimTime) {
        self.settle();
        // The instant `end` itself is no window's: coarsen for `[0, end)`, as `OutcomeStats`.
        while windows_to(end, self.window_ns) > MAX_WINDOWS {
            self.coarsen();
        }
        self.finishing = true;
        if end > self.last_change {
            self.advance(end);
        }
        self.settle();
        let windows = windows_to(end, self.window_ns);
        self.windows.resize(windows, Gauge::default());
    }
}
