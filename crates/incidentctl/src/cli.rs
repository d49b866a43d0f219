//! The command line, as clap reads it.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "incidentctl",
    version,
    about = "Work with incident-loop incidents from the terminal.",
    long_about = "Work with incident-loop incidents from the terminal. Every change goes through the stack's \
command API, signed with your AWS credentials; reads come straight from the stack's tables and buckets. \
An incident ID can be typed as its unique start (inc-d8ac, or d8ac).\n\n\
Exit codes: 0 done, 1 failed, 2 the command line is wrong, 3 refused (a rule or your permissions), 4 not found."
)]
pub struct Cli {
    /// The CloudFormation stack incident-loop was deployed as.
    #[arg(long, global = true, env = "INCIDENT_LOOP_STACK", default_value = "incident-loop")]
    pub stack: String,
    /// Human-readable tables, or JSON for scripts.
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List incidents (open ones, unless --all).
    List {
        /// Include resolved and merged incidents.
        #[arg(long)]
        all: bool,
        /// How many days back to look.
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// Show one incident with its times and links.
    Show { id: String },
    /// Show an incident's timeline.
    Timeline {
        id: String,
        /// Keep printing new entries as they arrive (Ctrl-C to stop).
        #[arg(long, short)]
        follow: bool,
    },
    /// Add an observation to the timeline.
    Note {
        id: String,
        text: String,
        #[arg(long)]
        link: Vec<String>,
    },
    /// Acknowledge: you are on it. Stops escalation.
    Ack { id: String },
    /// Resolve the incident once the closing checklist holds (see `checklist`); completes its lifecycle.
    Resolve {
        id: String,
        /// What ended the impact.
        #[arg(long)]
        summary: Option<String>,
        /// Resolve with checklist items still missing; the override and what it skipped are recorded.
        #[arg(long, requires = "reason")]
        force: bool,
        /// Why the checklist is overridden (with --force).
        #[arg(long, requires = "force")]
        reason: Option<String>,
    },
    /// The closing checklist: show it, answer risk-of-recurrence questions, confirm customers recovered.
    Checklist {
        id: String,
        #[command(subcommand)]
        command: Option<ChecklistCommand>,
    },
    /// Customer updates: show the draft and what was sent, or publish the next one.
    Update {
        id: String,
        /// The update, in customers' terms; each must say more than the last.
        text: Option<String>,
        /// Publish the generic first draft as it is.
        #[arg(long, conflicts_with = "text")]
        draft: bool,
    },
    /// Approve the pending mitigation (the proposed candidate unless --candidate).
    Approve {
        id: String,
        /// The approval you were paged about (apr-…): refused if a newer one replaced it.
        #[arg(long)]
        approval: Option<String>,
        #[arg(long)]
        candidate: Option<usize>,
        #[arg(long)]
        reason: Option<String>,
        /// Required to approve a roll-forward.
        #[arg(long)]
        confirm_roll_forward: bool,
        /// A runbook parameter the plan left as `<…>`, as NAME=VALUE (repeatable).
        #[arg(long = "param", value_parser = parse_param)]
        params: Vec<(String, String)>,
    },
    /// Reject the pending mitigation: the next candidate is proposed, or the manual path taken.
    Reject {
        id: String,
        /// The approval you were paged about (apr-…): refused if a newer one replaced it.
        #[arg(long)]
        approval: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Record a mitigation done by hand (the manual path); recovery is still confirmed by the alarms.
    Mitigate {
        id: String,
        #[arg(long)]
        note: String,
        #[arg(long)]
        link: Vec<String>,
    },
    /// Report customer impact on a service (support engineers).
    Report {
        #[arg(long)]
        service: String,
        /// What customers see, in their words.
        #[arg(long)]
        summary: String,
        /// The support case or ticket.
        #[arg(long)]
        link: Option<String>,
        /// A stable id for this report (e.g. the case number): resubmitting it never opens a second incident.
        #[arg(long)]
        report_id: Option<String>,
    },
    /// Who is on call now and next, team by team and layer by layer; or add an override.
    #[command(args_conflicts_with_subcommands = true)]
    Oncall {
        #[command(subcommand)]
        command: Option<OncallCommand>,
        /// One team (default: every team with rotations).
        team: Option<String>,
        /// Another instant: RFC 3339, or `YYYY-MM-DD HH:MM` in UTC.
        #[arg(long)]
        at: Option<String>,
    },
    /// Silence a service's alarms for a while (they are recorded, and page nobody; customer reports
    /// still do), list silences, or lift one early.
    #[command(args_conflicts_with_subcommands = true)]
    Silence {
        #[command(subcommand)]
        command: Option<SilenceCommand>,
        /// The catalog service to silence.
        service: Option<String>,
        /// How long: 90m, 2h, 1d (at most 7 days).
        #[arg(long = "for", requires = "service", value_name = "DURATION")]
        duration: Option<String>,
        /// Why (shown wherever a silenced signal is).
        #[arg(long, requires = "service")]
        reason: Option<String>,
    },
    /// Deployments and configuration changes of a service, recorded as they happened (newest first).
    Changes {
        /// The catalog service (or `unmapped/NAME` for a change no service claims).
        service: String,
        /// How far back: 90m, 24h, 7d (at most 90 days, as long as changes are kept).
        #[arg(long, default_value = "24h", value_name = "DURATION")]
        since: String,
        /// The game day's changes instead of the real ones.
        #[arg(long)]
        gameday: bool,
    },
    /// Learnings and their ladder: education, then a readiness-review question for every service,
    /// then a central change (a long-term action item with an owner).
    Learning {
        #[command(subcommand)]
        action: LearningAction,
    },
    /// A service's operational readiness review: the learnings' questions and its answers.
    Orr {
        service: String,
        #[command(subcommand)]
        command: Option<OrrCommand>,
    },
    /// The weekly operational review: incidents, time figures and their trend, detection, COEs,
    /// action items, on-call load, repeats and recurring factors (`--output json`: its figures).
    Review {
        /// An ISO week (2026-W48); default the last whole week.
        #[arg(long)]
        week: Option<String>,
    },
    /// One row per incident detected in the window (times, severity, services, team, detection
    /// source, customer-detected, exercise), for a spreadsheet or a notebook.
    Metrics {
        /// How far back: 24h, 30d.
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        since: String,
        /// csv (the default) or json (also what `--output json` gives).
        #[arg(long, value_enum)]
        format: Option<MetricsFormat>,
    },
    /// Signals recorded that opened no incident, with why: muted, suppressed, silenced, no incident to
    /// recover, no data.
    Ignored {
        /// How many days back to look.
        #[arg(long, default_value_t = 1)]
        days: u32,
    },
    /// Evidence captured for an incident: list captures, read them, verify their integrity.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// The five-whys tree of contributing factors: `why ID add [--parent NODE] "because …"`.
    Why {
        id: String,
        #[command(subcommand)]
        command: WhyCommand,
    },
    /// Action items: add, list (across recent incidents without an ID), close with validation.
    Action {
        #[command(subcommand)]
        command: ActionCommand,
    },
    /// The COE postmortem: the draft, and what it still lacks.
    Coe {
        #[command(subcommand)]
        command: CoeCommand,
    },
    /// The service catalog.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// A way in from another tool: writes its setup as catalog YAML (review it, then `catalog import`).
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Rehearse: inject a scenario or an event file through the game-day source.
    Gameday {
        /// A built-in scenario.
        #[arg(value_enum, required_unless_present = "file")]
        scenario: Option<crate::gameday::Scenario>,
        /// An EventBridge event file (e.g. from events/); its timestamps are set to now.
        #[arg(long, conflicts_with = "scenario")]
        file: Option<PathBuf>,
        /// Run approved runbooks for real; without it a game day rehearses them (nothing starts).
        #[arg(long)]
        run_runbooks: bool,
    },
}

/// How `incidentctl metrics` writes its rows.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum MetricsFormat {
    Csv,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum LearningAction {
    /// A new learning at the education level: the factor's category, the incidents behind it and
    /// where it was taught.
    Add {
        #[arg(long)]
        category: String,
        /// An incident behind it (repeat for each).
        #[arg(long = "incident", required = true)]
        incidents: Vec<String>,
        /// Where it was taught: a tenet, the weekly meeting, a shared practice.
        #[arg(long)]
        shared: String,
        text: String,
    },
    List,
    Show {
        id: String,
    },
    /// Up one level: to a readiness-review question (--what is the question), or to a central
    /// change (--what is the default changed for everyone, --owner the team, --due by default 90 days).
    Escalate {
        id: String,
        #[arg(long)]
        what: String,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        due: Option<String>,
    },
    /// A central change is done, with the proof.
    Done {
        id: String,
        #[arg(long)]
        validation: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum OrrCommand {
    /// Answer a learning's question for this service.
    Answer { learning: String, text: String },
}

#[derive(Subcommand, Debug)]
pub enum ChecklistCommand {
    /// Answer risk-of-recurrence question N (as numbered by `checklist ID`).
    Answer { n: usize, text: String },
    /// Confirm customers have recovered, saying how you know (support cases, canaries, error rates).
    CustomersRecovered { how: String },
}

#[derive(Subcommand, Debug)]
pub enum ImportSource {
    /// AWS Incident Manager: response plans, contacts and their channels, on-call schedules and
    /// rotations, escalation plans (ssm-incidents and ssm-contacts, with your AWS credentials).
    IncidentManager {
        /// Print what would change in the file (a diff) and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The catalog file to merge into (created if missing).
        #[arg(long, default_value = "catalog.yaml")]
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum OncallCommand {
    /// Someone takes a team's layer for a while (recorded as yours, and shown by `catalog show`).
    Override {
        team: String,
        /// Who takes it (a person in the catalog's people).
        #[arg(long)]
        user: String,
        /// RFC 3339, or `YYYY-MM-DD HH:MM` in UTC.
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// The layer (default: the team's first, usually `primary`).
        #[arg(long)]
        layer: Option<String>,
    },
    /// End an override added with `oncall override` now (the layer follows its rotations again).
    Lift { id: String },
    /// What being on call cost each person: texts, off-hours and sleep-hours pages in their time
    /// zone, time to acknowledge.
    Load {
        /// How far back: 7d, 30d, 90d.
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        since: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SilenceCommand {
    /// Silences in force (and, with --all, those that ended in the last day).
    List {
        #[arg(long)]
        all: bool,
    },
    /// End a silence now.
    Lift { id: String },
}

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Validate a catalog YAML file and replace the stored catalog with it.
    Import { file: PathBuf },
    /// Print the stored catalog as YAML.
    Show,
}

#[derive(Subcommand, Debug)]
pub enum EvidenceCommand {
    /// List an incident's captures with their objects and failed sources.
    List { id: String },
    /// Print a capture's manifest (the latest unless --capture), or one source's object.
    Get {
        id: String,
        #[arg(long)]
        capture: Option<String>,
        /// alarm-history, metric-data, logs-insights or changes.
        #[arg(long)]
        source: Option<String>,
    },
    /// Run the final evidence capture now (when the lifecycle's own one failed, or to capture again).
    Capture { id: String },
    /// Recompute every object's SHA-256 against its manifest; exits non-zero if any changed or is gone.
    Verify {
        id: String,
        #[arg(long)]
        capture: Option<String>,
    },
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{text}' is not NAME=VALUE")),
    }
}

#[derive(Subcommand, Debug)]
pub enum WhyCommand {
    /// Add a contributing factor (a top-level why without --parent).
    Add {
        #[arg(long)]
        parent: Option<String>,
        /// What kind of factor (deployment-safety, configuration, capacity, dependency,
        /// observability, runbook-tooling, process, code-defect, testing); without it, one is
        /// suggested.
        #[arg(long)]
        category: Option<String>,
        text: String,
    },
    /// Show the tree.
    Show,
    /// Class a factor already in the tree (`none` removes its category).
    Categorise { node: String, category: String },
    /// Accept the risk of a factor instead of acting on it, with the reason.
    Accept {
        node: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ActionCommand {
    /// Add an action item to an incident's COE.
    Add {
        id: String,
        /// short (hours), mid (days–weeks) or long (months).
        #[arg(long)]
        term: String,
        /// The owning team.
        #[arg(long)]
        owner: String,
        /// YYYY-MM-DD; defaults to the term's horizon.
        #[arg(long)]
        due: Option<String>,
        /// The five-whys node this item answers.
        #[arg(long)]
        why: Option<String>,
        text: String,
    },
    /// List action items of an incident, or of every incident of the last --days.
    List {
        id: Option<String>,
        #[arg(long)]
        overdue: bool,
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// Close an item, with how it was proven.
    Done {
        item: String,
        #[arg(long)]
        validation: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CoeCommand {
    /// Print the COE draft (Markdown), pre-filled from the record.
    Show { id: String },
    /// List what the COE still lacks; exits non-zero while anything does.
    Check { id: String },
    /// Write what customers experienced, in their terms.
    Impact { id: String, text: String },
    /// Add a learning.
    Learning { id: String, text: String },
    /// Answer the dependency review for one dependency (any of the four questions at a time).
    Dependency {
        id: String,
        dependency: String,
        /// Did it perform as promised?
        #[arg(long)]
        as_promised: Option<String>,
        /// Was our use of it right?
        #[arg(long)]
        our_use: Option<String>,
        /// Was the failure mode foreseeable?
        #[arg(long)]
        foreseeable: Option<String>,
        /// Can we degrade gracefully without it?
        #[arg(long)]
        degrade: Option<String>,
    },
    /// Write the customer-facing RCA (customer terms: the functions they use, not our components).
    Rca { id: String, text: String },
    /// Rewrite the COE document in S3 and open tickets for new action items.
    Publish { id: String },
    /// Mark the COE complete: refused while `coe check` finds anything missing.
    Complete { id: String },
}

impl CoeCommand {
    pub fn id(&self) -> &str {
        match self {
            CoeCommand::Show { id }
            | CoeCommand::Check { id }
            | CoeCommand::Impact { id, .. }
            | CoeCommand::Learning { id, .. }
            | CoeCommand::Dependency { id, .. }
            | CoeCommand::Rca { id, .. }
            | CoeCommand::Publish { id }
            | CoeCommand::Complete { id } => id,
        }
    }
}
