//! incidentctl: the engineers' command line for incident-loop.
//!
//! It finds the deployed stack's table, bus and state machine from the CloudFormation stack outputs,
//! uses the SDK's default credential chain and honours `AWS_ENDPOINT_URL`, so the same binary serves
//! AWS and the local stack.

mod cli;
mod closing;
mod commands;
mod context;
mod evidence;
mod gameday;
mod mitigation;
mod postmortem;
mod render;

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = cli::Cli::parse();
    if let Err(err) = commands::run(cli).await {
        eprintln!("error: {}", context::explain(&err));
        std::process::exit(1);
    }
}
