//! Bookkeeping of the scale run: CPU split per phase (fleetlog, nats-server, the bench) and the
//! summary table of figures against the goals.

use std::time::Instant;

use crate::child::ChildServer;

/// CPU counters and wall clock at the start of a phase.
pub struct Clock {
    wall: Instant,
    fleetlog: f64,
    nats: f64,
    bench: f64,
}

impl Clock {
    /// Now, for `server` (if one runs), the nats-server and this process.
    pub fn start(server: Option<&ChildServer>) -> Clock {
        // The phase's own peak RSS starts here.
        if let Some(s) = server {
            s.start_phase();
        }
        let (bench, nats) = crate::cpu_seconds();
        Clock { wall: Instant::now(), fleetlog: server.map_or(0.0, ChildServer::cpu_seconds), nats, bench }
    }

    /// Seconds since [`Clock::start`].
    pub fn secs(&self) -> f64 {
        self.wall.elapsed().as_secs_f64()
    }

    /// "CPU: fleetlog X s, nats-server Y s, bench Z s over W s wall (2 cores)", and with a
    /// server, its peak RSS in this phase and so far (so the phase that raised it can be told).
    pub fn cpu(&self, server: Option<&ChildServer>) -> String {
        let (bench, nats) = crate::cpu_seconds();
        let fleetlog = server.map_or(0.0, ChildServer::cpu_seconds) - self.fleetlog;
        let peak = server.map_or(String::new(), |s| {
            format!(
                "; fleetlog peak RSS in this phase {:.0} MiB, so far {:.0} MiB",
                mib(s.phase_peak_rss_kib()),
                mib(s.peak_rss_kib())
            )
        });
        format!(
            "CPU: fleetlog {:.1} s, nats-server {:.1} s, bench {:.1} s over {:.1} s wall on {} cores{peak}",
            fleetlog.max(0.0),
            nats - self.nats,
            bench - self.bench,
            self.secs(),
            std::thread::available_parallelism().map_or(1, usize::from)
        )
    }
}

/// One line of the summary table.
pub struct Row {
    /// The figure.
    pub figure: &'static str,
    /// What was measured (with its same-run baseline, if any).
    pub measured: String,
    /// The goal.
    pub goal: &'static str,
    /// Whether the goal is met (None: no numeric goal, or the step did not run).
    pub met: Option<bool>,
}

/// Prints the table.
pub fn table(devices: u32, rows: &[Row]) {
    println!();
    println!("| figure at {devices} devices | measured (same-run baseline) | goal | met |");
    println!("|---|---|---|---|");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        println!("| {} | {} | {} | {met} |", r.figure, r.measured, r.goal);
    }
}

/// Milliseconds at quantile `q` of a µs histogram.
pub fn ms(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// MiB from KiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
