//! incidentctl: the engineers' command line for incident-loop.
//!
//! A client of the stack's command API: every change is a signed request that the server checks
//! against the verified caller and the core's rules. It reads incidents, timelines, evidence and
//! COEs straight from the stack (read-only), finds the stack from its CloudFormation outputs, uses
//! the SDK's default credential chain and honours `AWS_ENDPOINT_URL`, so the same binary serves AWS
//! and the local stack.

mod api;
mod changes;
mod cli;
mod closing;
mod commands;
mod context;
mod evidence;
mod gameday;
mod incident_manager;
mod learning;
mod metrics;
mod noise;
mod oncall;
mod postmortem;
mod render;
mod review;

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = cli::Cli::parse();
    if let Err(err) = commands::run(cli).await {
        eprintln!("error: {}", context::explain(&err));
        std::process::exit(context::exit_code(&err));
    }
}
